// Log Analytics + workspace-based Application Insights with local (instrumentation-key) authentication disabled:
// telemetry is accepted only with an Entra ID token, which the app gets as its user-assigned identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING = ClientId=<id>;Authorization=AAD). The identity is granted
// Monitoring Metrics Publisher on the component, the role that authorises ingestion.

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object = {}

@description('Principal id of the app identity that publishes telemetry.')
param appPrincipalId string

@description('Days Log Analytics keeps data (30 are included in the ingestion price).')
param retentionInDays int = 30

@description('Daily ingestion cap in GB (-1: none). A cap that is hit stops Firebell\'s own alerting, so keep it generous.')
param dailyQuotaGb int = 1

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    workspaceCapping: {
      dailyQuotaGb: dailyQuotaGb
    }
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

resource publisherRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output workspaceId string = workspace.id
output applicationInsightsId string = applicationInsights.id
output applicationInsightsName string = applicationInsights.name
output connectionString string = applicationInsights.properties.ConnectionString
