// Firebell in Azure: `azd up` provisions this (subscription scope: it creates the resource group), then deploys the
// `api` service of azure.yaml to the Function App. One module per concern under modules/; docs/deploy.md walks
// through it and what is left to do by hand.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names the resource group and seeds the unique suffix of every resource.')
param environmentName string

@minLength(1)
@description('Region for every resource; must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

// --- Firebell's settings (README "Settings"), each with its default -------------------------------------------
@description('FIREBELL_CONFIG_DIR: folder (relative to the app root) with the TOML configuration deployed with the code.')
param firebellConfigDir string = 'config'

@description('TEAMS_WORKFLOW_URL: Teams Workflows webhook that receives notification cards. Empty: not configured.')
param teamsWorkflowUrl string = ''

@description('AZURE_DEVOPS_ORG_URL: https://dev.azure.com/<organisation>. Empty: Boards not configured.')
param azureDevOpsOrgUrl string = ''

@description('AZURE_DEVOPS_PROJECT: the Boards project.')
param azureDevOpsProject string = ''

@description('AZURE_DEVOPS_CACHE_DIR: where the azure-devops SDK caches location data; the app root is read-only on Flex Consumption, /tmp is writable.')
param azureDevOpsCacheDir string = '/tmp/azure-devops'

@description('GRAPH_TEAM_ID: the Teams team (its group id) where incident channels are made. Empty: incident channels not configured.')
param graphTeamId string = ''

@description('GRAPH_URL: Microsoft Graph v1.0 endpoint (a national cloud has its own).')
param graphUrl string = 'https://graph.microsoft.com/v1.0'

@description('GRAPH_CHANNEL_SEVERITY: incidents of this severity or worse get a channel when they open (1–4; 0: only when asked).')
param graphChannelSeverity string = '2'

@description('GRAPH_ARCHIVE_ON: closed or resolved: when an incident channel is archived.')
param graphArchiveOn string = 'closed'

@description('GRAPH_TEAMS_APP_ID: the Teams app (its id in the org catalog, installed for paged people, its manifest naming this app\'s identity in webApplicationInfo) that Teams activity notifications to one person come from (people.toml teams_activity steps; the identity needs the Graph application permission TeamsActivity.Send). Empty: not configured.')
param graphTeamsAppId string = ''

@description('TEAMS_CHANNEL_WORKFLOW_URL: Workflows flow that posts a card into the channel named in the request (docs/teams.md). Empty: no cards in incident channels.')
param teamsChannelWorkflowUrl string = ''

@description('STATUS_PAGE_TITLE: public name of the status site.')
param statusPageTitle string = 'Service status'

@description('STATUS_PAGE_URL: public URL of the status site. Empty: the storage account\'s static website endpoint (set this when a custom domain or CDN fronts it).')
param statusPageUrl string = ''

@secure()
@description('STATUS_PAGE_ID_KEY: the key of the status page\'s opaque public incident ids. Empty: derived from this subscription, resource group and environment (stable across deployments, not computable without those ids). Changing it changes every public incident URL.')
param statusPageIdKey string = ''

@description('ACS_ENDPOINT: https://<resource>.communication.azure.com of the Communication Services resource that texts paged people (docs/oncall.md). Empty: SMS not configured.')
param acsEndpoint string = ''

@description('ACS_FROM_NUMBER: the resource\'s phone number, E.164.')
param acsFromNumber string = ''

@description('ACS_COGNITIVE_SERVICES_ENDPOINT: the Azure AI services resource connected to Communication Services, for text-to-speech on calls. Needed for voice steps: without it Call Automation cannot speak the prompt.')
param acsCognitiveServicesEndpoint string = ''

@secure()
@description('ACS_ACCESS_KEY: the resource\'s access key (HMAC request signing). Empty: the app\'s managed identity signs in with Entra ID instead (set acsResourceName so it is granted access).')
param acsAccessKey string = ''

@description('Name of the existing Communication Services resource: the app\'s identity is granted a custom role on it (the resource\'s Read and Write actions only: it cannot list or regenerate the access keys), so SMS and calls authenticate with Entra ID tokens and ACS_ACCESS_KEY can stay empty. Empty: no role assignment.')
param acsResourceName string = ''

@description('true: grant the built-in Communication and Email Service Owner role instead of the custom one (it can read the access keys; use it only if the custom role is refused).')
param acsUseBuiltInRole bool = false

@description('Resource group of that Communication Services resource. Empty: the app\'s own resource group.')
param acsResourceGroup string = ''

@secure()
@description('ACS_EVENTS_SECRET: the secret the Event Grid subscription\'s URL carries (?secret=). Empty: /api/acs/events refuses every delivery.')
param acsEventsSecret string = ''

@description('ACS_EVENTS_ENTRA_AUDIENCE: the application id URI of the Entra app the Event Grid subscription to /api/acs/events is protected with (Event Grid then sends its bearer token, verified instead of or beside ACS_EVENTS_SECRET; docs/oncall.md). Empty: the URL secret only.')
param acsEventsEntraAudience string = ''

@description('ACS_EVENTS_ENTRA_CLIENT_ID: that app\'s client id (v2 tokens carry it as the audience). Optional.')
param acsEventsEntraClientId string = ''

@secure()
@description('FIREBELL_ACK_LINK_KEY: signs one-time acknowledgement links in SMS. Empty: derived from this subscription, resource group and environment.')
param ackLinkKey string = ''

// --- Secrets: stored in Key Vault, referenced from app settings ------------------------------------------------
@secure()
@description('TEAMS_OUTGOING_WEBHOOK_TOKEN (base64 security token shown when the outgoing webhook is created). Empty: /api/teams answers 503 "not configured".')
param teamsOutgoingWebhookToken string = ''

@secure()
@description('AZURE_DEVOPS_PAT. Empty (recommended): Boards authenticates as the managed identity.')
param azureDevOpsPat string = ''

@secure()
@description('BOARDS_SERVICE_HOOK_SECRET: the shared secret of the Azure DevOps service hook (basic auth password or X-Firebell-Secret header). Empty: /api/boards/events answers 503 "not configured".')
param boardsServiceHookSecret string = ''

@description('boards-service-hook-secret is already in the vault: reference it without passing the value.')
param boardsServiceHookSecretInVault bool = false

@description('teams-outgoing-webhook-token is already in the vault (az keyvault secret set): reference it without passing the value.')
param teamsTokenInVault bool = false

@description('azure-devops-pat is already in the vault: reference it without passing the value.')
param azureDevOpsPatInVault bool = false

// --- Azure Monitor secure webhook (Entra ID) for POST /api/alerts -------------------------------------------------
@description('Turn the secure webhook on: the intake action group sends an Entra ID token and Firebell requires it.')
param secureWebhookEnabled bool = false

@description('Object id of the Entra app registration the action group gets tokens for (docs/deploy.md).')
param secureWebhookObjectId string = ''

@description('Application id URI of that app, e.g. api://firebell-alerts: FIREBELL_ENTRA_AUDIENCE.')
param secureWebhookIdentifierUri string = ''

@description('FIREBELL_ENTRA_CLIENT_ID: the app\'s application (client) id, the audience of v2 tokens. Optional.')
param secureWebhookClientId string = ''

@description('FIREBELL_ENTRA_TENANT_ID. Empty: this subscription\'s tenant (when the secure webhook is on).')
param secureWebhookTenantId string = ''

@description('FIREBELL_ENTRA_JWKS_URL. Empty: the tenant\'s discovery/v2.0/keys.')
param secureWebhookJwksUrl string = ''

// --- Firebell's own alerts -------------------------------------------------------------------------------------
@description('Platform roster e-mail receivers for Firebell\'s own alerts: [{ "name": ..., "emailAddress": ... }].')
param platformEmailReceivers array = []

@description('Platform roster SMS receivers: [{ "name": ..., "countryCode": "44", "phoneNumber": ... }].')
param platformSmsReceivers array = []

@description('Enable the static website with a deployment script (see modules/storage.bicep).')
param enableStaticWebsite bool = true

// --- Always-ready instances (Flex Consumption): the paging path never starts cold -----------------------------------
// Each is billed while idle (the always-ready baseline, GB-seconds of instance memory) as well as when it runs:
// docs/deploy.md "Always-ready instances".
@description('FIREBELL_NOTIFICATIONS_ALWAYS_READY: instances of the notifications function (the first page) kept running. 0: scale from zero; the first page after a quiet spell waits for an instance to start.')
@minValue(0)
param notificationsAlwaysReady int = 1

@description('FIREBELL_HTTP_ALWAYS_READY: instances of the HTTP functions (/api/alerts, /api/teams, …) kept running. 0: scale from zero; the first alert or Teams command after a quiet spell waits for an instance to start.')
@minValue(0)
param httpAlwaysReady int = 1

// --- Names -------------------------------------------------------------------------------------------------------
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  app: 'firebell'
}
var appName = 'func-firebell-${token}'

// What the code uses (DESIGN.md "Storage"); tests/infra checks these lists against the code.
var tables = [
  'incidents'
  'timeline'
  'alerts'
  'overrides'
  'maintenances'
  'escalations'
  'workitems'
  'readiness'
  'followups'
  'webhookbudgets'
  'channels'
  'notifyrules'
]
var queues = [
  'notifications'
  'statuspage'
  'workitems'
  'escalations'
  'postmortems'
  'channels'
  'readiness'
  'contacts'
]
var containers = [
  'postmortems'
  'statuspage' // the status site's private record and month lists (never in $web: they name INC-n)
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-firebell-${token}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stfirebell${token}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    tables: tables
    queues: queues
    containers: containers
    deploymentContainerName: 'app-package'
    enableStaticWebsite: enableStaticWebsite
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-firebell-${token}'
    applicationInsightsName: 'appi-firebell-${token}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-fb-${token}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    teamsOutgoingWebhookToken: teamsOutgoingWebhookToken
    azureDevOpsPat: azureDevOpsPat
    teamsTokenInVault: teamsTokenInVault
    azureDevOpsPatInVault: azureDevOpsPatInVault
    boardsServiceHookSecret: boardsServiceHookSecret
    boardsServiceHookSecretInVault: boardsServiceHookSecretInVault
  }
}

// Stable across deployments (public incident URLs must not change) and not computable from anything public.
var derivedAckLinkKey = '${uniqueString(subscription().id, rg.id, environmentName, 'ack-links')}${uniqueString(rg.id, token, 'ack-links')}'
var derivedStatusPageIdKey = '${uniqueString(subscription().id, rg.id, environmentName, 'status-page-ids')}${uniqueString(rg.id, token, 'status-page-ids')}'

// The secret Graph's change notifications carry (clientState): derived like the status page key, never public.
var derivedGraphClientState = '${uniqueString(subscription().id, rg.id, environmentName, 'graph-client-state')}${uniqueString(rg.id, token, 'graph-client-state')}'

// Every setting the code reads (README "Settings"). Platform and identity settings are added in functionapp.bicep.
// Not here on purpose: FIREBELL_FUNCTION_KEY (only the devhost reads it; in Azure the Functions host checks its own
// keys for AuthLevel.FUNCTION routes), WEBSITE_HOSTNAME (set by Azure), AzureWebJobsStorage as a connection string
// (shared keys are off; the identity-based __accountName form is used).
var firebellSettings = {
  FIREBELL_CONFIG_DIR: firebellConfigDir
  TEAMS_OUTGOING_WEBHOOK_TOKEN: keyVault.outputs.teamsTokenReference
  TEAMS_WORKFLOW_URL: teamsWorkflowUrl
  AZURE_DEVOPS_ORG_URL: azureDevOpsOrgUrl
  AZURE_DEVOPS_PROJECT: azureDevOpsProject
  AZURE_DEVOPS_PAT: keyVault.outputs.devOpsPatReference
  BOARDS_SERVICE_HOOK_SECRET: keyVault.outputs.boardsServiceHookSecretReference
  AZURE_DEVOPS_CACHE_DIR: azureDevOpsCacheDir
  FIREBELL_ENTRA_TENANT_ID: secureWebhookEnabled ? (empty(secureWebhookTenantId) ? tenant().tenantId : secureWebhookTenantId) : ''
  FIREBELL_ENTRA_AUDIENCE: secureWebhookEnabled ? secureWebhookIdentifierUri : ''
  FIREBELL_ENTRA_CLIENT_ID: secureWebhookEnabled ? secureWebhookClientId : ''
  FIREBELL_ENTRA_JWKS_URL: secureWebhookEnabled ? secureWebhookJwksUrl : ''
  // Incident channels: Graph tokens are the app's managed identity (GRAPH_CLIENT_ID names it; no secret in Azure).
  GRAPH_TEAM_ID: graphTeamId
  GRAPH_TENANT_ID: tenant().tenantId
  GRAPH_CLIENT_ID: identity.outputs.clientId
  GRAPH_URL: graphUrl
  GRAPH_CHANNEL_SEVERITY: graphChannelSeverity
  GRAPH_ARCHIVE_ON: graphArchiveOn
  GRAPH_CLIENT_STATE: derivedGraphClientState
  GRAPH_TEAMS_APP_ID: graphTeamsAppId
  TEAMS_CHANNEL_WORKFLOW_URL: teamsChannelWorkflowUrl
  STATUS_PAGE_TITLE: statusPageTitle
  STATUS_PAGE_URL: empty(statusPageUrl) ? storage.outputs.webEndpoint : statusPageUrl
  STATUS_PAGE_ID_KEY: empty(statusPageIdKey) ? derivedStatusPageIdKey : statusPageIdKey
  ACS_ENDPOINT: acsEndpoint
  ACS_FROM_NUMBER: acsFromNumber
  ACS_COGNITIVE_SERVICES_ENDPOINT: acsCognitiveServicesEndpoint
  ACS_ACCESS_KEY: acsAccessKey
  ACS_EVENTS_SECRET: acsEventsSecret
  ACS_EVENTS_ENTRA_TENANT_ID: empty(acsEventsEntraAudience) ? '' : tenant().tenantId
  ACS_EVENTS_ENTRA_AUDIENCE: acsEventsEntraAudience
  ACS_EVENTS_ENTRA_CLIENT_ID: acsEventsEntraClientId
  ACS_EVENTS_ENTRA_JWKS_URL: ''
  ACS_EVENTS_ENTRA_PUBLISHER_APP_ID: '' // empty: Event Grid's first-party app id
  FIREBELL_ACK_LINK_KEY: empty(ackLinkKey) ? derivedAckLinkKey : ackLinkKey
}

module communication 'modules/communication.bicep' = if (!empty(acsResourceName)) {
  name: 'communication-access'
  scope: resourceGroup(empty(acsResourceGroup) ? rg.name : acsResourceGroup)
  dependsOn: [rg]
  params: {
    communicationServicesName: acsResourceName
    appPrincipalId: identity.outputs.principalId
    useBuiltInRole: acsUseBuiltInRole
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: appName
    planName: 'plan-firebell-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: 'app-package'
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    notificationsAlwaysReady: notificationsAlwaysReady
    httpAlwaysReady: httpAlwaysReady
    firebellSettings: firebellSettings
  }
}

module actionGroups 'modules/actiongroups.bicep' = {
  name: 'actiongroups'
  scope: rg
  params: {
    // The app's name comes from the module output so that the key lookup waits for the app and its settings.
    appName: functionApp.outputs.name
    tags: tags
    secureWebhookEnabled: secureWebhookEnabled
    secureWebhookObjectId: secureWebhookObjectId
    secureWebhookIdentifierUri: secureWebhookIdentifierUri
    platformEmailReceivers: platformEmailReceivers
    platformSmsReceivers: platformSmsReceivers
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    appName: functionApp.outputs.name
    appHostName: functionApp.outputs.hostName
    location: location
    tags: tags
    workspaceId: monitoring.outputs.workspaceId
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    platformActionGroupId: actionGroups.outputs.platformId
  }
}

// azd stores these in .azure/<env>/.env.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output FIREBELL_API_URL string = 'https://${functionApp.outputs.hostName}/api'
output FIREBELL_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output STATUS_PAGE_URL string = firebellSettings.STATUS_PAGE_URL
output KEY_VAULT_NAME string = keyVault.outputs.name
output INTAKE_ACTION_GROUP_ID string = actionGroups.outputs.intakeId
output PLATFORM_ACTION_GROUP_ID string = actionGroups.outputs.platformId
