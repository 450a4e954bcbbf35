// Firebell watching itself. Every rule here notifies the `platform` action group (e-mail/SMS from Azure Monitor),
// never Firebell's own intake: a Firebell that is down cannot page about being down.
//
// 1. A message reached a -poison queue. Azure Storage's queue metrics have no per-queue dimension (QueueMessageCount
//    is per account, and the work queues are never empty for long), so a metric alert cannot single out the -poison
//    queues. Storage resource logs could (a PutMessage on *-poison) but would log every message of every queue.
//    Instead a log search alert reads what the Functions host already writes to Application Insights when it gives
//    up on a message ("Message has reached MaxDequeueCount of 5. Moving message to queue '<q>-poison'."), and also
//    the custom metric `firebell.poison_messages` that Firebell's own code and operator tools emit for poison they
//    handle themselves (counted from 0, so an absent metric simply contributes nothing).
// 2. Function failures: failed invocations (requests with Success == false, server-side codes only: a 4xx answer
//    to bad input is Firebell working as designed) plus unhandled exceptions.
// 3. /api/health unhealthy: a standard availability test GETs https://<app>/api/health from several regions every
//    5 minutes (availabilityFrequency), expects 200 (unhealthy is 503), and a metric alert fires when 2 or more locations fail.

param appName string
param appHostName string
param location string
param tags object = {}
param workspaceId string
param applicationInsightsId string
param platformActionGroupId string

@description('Failed invocations in 5 minutes above which the failure alert fires.')
param functionFailureThreshold int = 0

@description('Seconds between availability test runs (300, 600 or 900). Each run from each location is billed: see docs/deploy.md.')
@allowed([
  300
  600
  900
])
param availabilityFrequency int = 300

@description('Availability test locations (Azure Monitor location ids).')
param availabilityLocations array = [
  'emea-nl-ams-azr'
  'us-va-ash-azr'
  'apac-sg-sin-azr'
]

var poisonQuery = '''
union isfuzzy=true
  (AppTraces
    | where Message has "MaxDequeueCount" and Message has "-poison"
    | project TimeGenerated, Poisoned = 1.0),
  (AppMetrics
    | where Name == "firebell.poison_messages"
    | project TimeGenerated, Poisoned = Sum)
| summarize Poisoned = sum(Poisoned)
| where Poisoned > 0
'''

var failureQuery = '''
union isfuzzy=true
  (AppRequests
    | where Success == false and not(ResultCode startswith "4")
    | project TimeGenerated, Failure = OperationName),
  (AppExceptions
    | where ProblemId !has "Microsoft.Azure.WebJobs.Host.FunctionInvocationException"
    | project TimeGenerated, Failure = ProblemId)
'''

resource poisonAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'firebell-poison-message-${appName}'
  location: location
  tags: tags
  properties: {
    displayName: 'Firebell: a message reached a -poison queue'
    description: 'A queue message failed every delivery and was moved to <queue>-poison. Replay it with the operator tools once the cause is fixed (docs/deploy.md).'
    severity: 1
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: poisonQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        platformActionGroupId
      ]
    }
  }
}

resource failureAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'firebell-function-failures-${appName}'
  location: location
  tags: tags
  properties: {
    displayName: 'Firebell: function failures'
    description: 'Firebell functions failed or threw. Look at Application Insights failures for the function and the exception.'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: failureQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: functionFailureThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        platformActionGroupId
      ]
    }
  }
}

resource healthTest 'Microsoft.Insights/webtests@2022-06-15' = {
  name: 'firebell-health-${appName}'
  location: location
  // Availability tests are shown under (and counted by) the component this hidden link names.
  tags: union(tags, {
    'hidden-link:${applicationInsightsId}': 'Resource'
  })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: 'firebell-health-${appName}'
    Name: 'Firebell /api/health'
    Description: 'GET /api/health: 200 healthy, 503 unhealthy (storage unreachable or configuration invalid).'
    Enabled: true
    Frequency: availabilityFrequency
    Timeout: 30
    Kind: 'standard'
    RetryEnabled: true
    Locations: [
      for id in availabilityLocations: {
        Id: id
      }
    ]
    Request: {
      RequestUrl: 'https://${appHostName}/api/health'
      HttpVerb: 'GET'
      ParseDependentRequests: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      IgnoreHttpStatusCode: false
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 7
    }
  }
}

resource healthAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'firebell-health-unhealthy-${appName}'
  location: 'global'
  tags: tags
  properties: {
    description: 'GET https://${appHostName}/api/health failed (not 200) from 2 or more locations: Firebell cannot reach storage, its configuration is invalid, or the app is down.'
    severity: 0
    enabled: true
    scopes: [
      healthTest.id
      applicationInsightsId
    ]
    evaluationFrequency: 'PT1M'
    // At least one run of each location falls in the window at every availabilityFrequency.
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: healthTest.id
      componentId: applicationInsightsId
      failedLocationCount: 2
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: platformActionGroupId
      }
    ]
  }
}

output healthTestName string = healthTest.name
