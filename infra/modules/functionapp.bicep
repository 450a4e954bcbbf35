// The Function App on the Flex Consumption plan (FC1), Linux, Python 3.11, running as the user-assigned identity.
// No connection string or key anywhere: host storage is identity-based, the deployment package is read from a blob
// container with the identity, Application Insights takes Entra ID tokens, and secrets are Key Vault references
// resolved as the identity.
//
// Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and the WEBSITE_* content settings:
// the runtime and its version live in functionAppConfig.runtime instead.

param name string
param planName string
param location string
param tags object = {}

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string
param applicationInsightsConnectionString string

@description('Instance memory (MB): 512, 2048 or 4096.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on instances (40 to 1000). The status page and Boards coalesce work; 40 is plenty.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

// Always-ready instances stay running for their scale group whether or not they work, so the first page after a
// quiet spell does not wait for an instance to start from zero (the target: first page within 2 s of an incident
// opening). Flex Consumption scales each non-HTTP function on its own instances ('function:<name>') and all HTTP
// functions together ('http'). They are billed while idle too (docs/deploy.md "Always-ready instances").
@description('Always-ready instances of the notifications function (posts the first page, escalation step 0 inline). 0: scale from zero; the first page after a quiet spell waits for an instance to start.')
@minValue(0)
param notificationsAlwaysReady int = 1

@description('Always-ready instances of the HTTP group (/api/alerts from Azure Monitor, /api/teams which Teams gives 5 s). 0: scale from zero; the first alert or command after a quiet spell waits for an instance to start.')
@minValue(0)
param httpAlwaysReady int = 1

@description('Firebell\'s settings (README "Settings"), merged over the platform settings below.')
param firebellSettings object

// A count of 0 leaves its group out of alwaysReady: that group scales from zero, the platform's default.
var notificationsReady = [
  {
    name: 'function:notifications'
    instanceCount: notificationsAlwaysReady
  }
]
var httpReady = [
  {
    name: 'http'
    instanceCount: httpAlwaysReady
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  //checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions and changes how instances are billed; Firebell's durability is in storage, and a lost instance loses no work (queues redeliver, the sweeper repages)
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy `services.api` to by this tag.
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  //checkov:skip=CKV_AZURE_222: the app must be reachable from the internet: Azure Monitor action groups and Teams outgoing webhooks post to it; every non-anonymous route checks a function key, Teams HMAC or Entra token
  //checkov:skip=CKV_AZURE_17: callers (Azure Monitor, Teams, Azure DevOps service hooks) cannot present client certificates; routes authenticate with function keys, HMAC or Entra ID tokens
  //checkov:skip=CKV_AZURE_212: the check reads siteConfig.numberOfWorkers; Flex Consumption sets instances in functionAppConfig.scaleAndConcurrency instead, where alwaysReady pins one notifications and one HTTP instance by default for a warm first page; failover is not pinned: a lost instance is replaced and loses no work (queues redeliver, the sweeper repages)
  //checkov:skip=CKV_AZURE_213: App Service health check (healthCheckPath) is not available on Flex Consumption; /api/health is probed by the availability test in alerts.bicep instead
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: concat((notificationsAlwaysReady > 0) ? notificationsReady : [], (httpAlwaysReady > 0) ? httpReady : [])
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Publishing with user names and passwords (FTP, SCM basic auth) off: azd and the pipeline deploy with Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

// The whole app-settings collection (this resource replaces it on every deployment, so a setting added by hand in
// the portal is removed by the next `azd provision`: add it here or in main.bicep instead).
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov reads every Microsoft.Web/sites/config as the 'web' configuration; this one is 'appsettings', which
  // has none of the properties the following checks look for:
  //checkov:skip=CKV_AZURE_63: false positive (appsettings, not web config); HTTP logs are App Service web-server logs Functions does not produce, requests go to Application Insights
  //checkov:skip=CKV_AZURE_65: false positive (appsettings, not web config); detailed error pages are IIS/web-server features, errors are in Application Insights
  //checkov:skip=CKV_AZURE_66: false positive (appsettings, not web config); failed request tracing is a web-server feature, failures are in Application Insights
  //checkov:skip=CKV_AZURE_13: false positive (appsettings, not web config); App Service Authentication would turn away Azure Monitor and Teams, the routes authenticate themselves
  //checkov:skip=CKV_AZURE_80: false positive (appsettings, not web config); a Python app, no .NET Framework
  //checkov:skip=CKV_AZURE_88: false positive (appsettings, not web config); Flex Consumption runs from a blob package, not Azure Files (which would need shared keys)
  //checkov:skip=CKV_AZURE_222: false positive (appsettings, not web config); public access is decided on the site (see its suppression)
  parent: app
  name: 'appsettings'
  properties: union(firebellSettings, {
    // Host storage through the identity: the host (triggers, outputs, keys, timers) and shared/ read these.
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // azure-identity's DefaultAzureCredential / ManagedIdentityCredential pick the user-assigned identity by this.
    AZURE_CLIENT_ID: identityClientId
    // Firebell configures the Azure Monitor OpenTelemetry distro itself, once per worker and after the first
    // invocation has answered (shared/core/telemetry.py), exporting its structured logs (customDimensions) and
    // custom metrics; the exporter takes Entra ID tokens for the identity named in the authentication string.
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // The Python worker carries the host's trace context into each invocation, so Firebell's records share the
    // invocation's operation id.
    PYTHON_ENABLE_OPENTELEMETRY: 'true'
    // Not the worker's own distro set-up: it would run configure_azure_monitor() at every worker start, before the
    // first request (about half a second on a cold start), without Firebell's options; and with Firebell's own call
    // it would instrument twice, which the worker's maintainers do not support.
    PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'false'
  })
}

output name string = app.name
output id string = app.id
output hostName string = app.properties.defaultHostName
