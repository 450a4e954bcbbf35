// Two action groups, deliberately independent of each other.
//
// 1. `intake`: what users attach their own alert rules to. Its webhook posts every alert to Firebell's
//    POST /api/alerts in the common alert schema, authenticated with the function key (?code=) and, when configured,
//    also with an Entra ID token (the "secure webhook": the action group gets a token for the Entra app whose
//    application id URI Firebell checks as FIREBELL_ENTRA_AUDIENCE).
// 2. `platform`: how Firebell's own failures reach the platform roster — e-mail and SMS straight from Azure
//    Monitor, with no Firebell, Teams or storage on the path. Only alerts/alerts.bicep uses it.

param appName string
param tags object = {}

@description('Short name of the intake group (at most 12 characters, shown in SMS and e-mail).')
@maxLength(12)
param intakeShortName string = 'firebell'

@description('Short name of the platform group (at most 12 characters).')
@maxLength(12)
param platformShortName string = 'fb-platform'

@description('Secure webhook: also send an Entra ID token with each alert.')
param secureWebhookEnabled bool = false

@description('Secure webhook: object id of the Entra application registration (not its client id).')
param secureWebhookObjectId string = ''

@description('Secure webhook: the application id URI of that app (Firebell\'s FIREBELL_ENTRA_AUDIENCE).')
param secureWebhookIdentifierUri string = ''

@description('Platform roster e-mail receivers: [{ name, emailAddress }].')
param platformEmailReceivers array = []

@description('Platform roster SMS receivers: [{ name, countryCode, phoneNumber }] (countryCode without +, e.g. "44").')
param platformSmsReceivers array = []

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

// The host's default function key, read at deployment time. Flex Consumption keeps host keys like every other plan
// (in the host storage, azure-webjobs-secrets) and answers Microsoft.Web/sites/host/listKeys through ARM. The key
// is looked up here rather than passed in, so it is never a module parameter in the deployment history.
resource appHost 'Microsoft.Web/sites/host@2024-04-01' existing = {
  parent: app
  name: 'default'
}

var alertsUrl = 'https://${app.properties.defaultHostName}/api/alerts?code=${appHost.listKeys().functionKeys.default}'

resource intake 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-firebell-intake-${appName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: intakeShortName
    enabled: true
    webhookReceivers: [
      {
        name: 'firebell-alerts'
        serviceUri: alertsUrl
        useCommonAlertSchema: true
        useAadAuth: secureWebhookEnabled
        objectId: secureWebhookEnabled ? secureWebhookObjectId : null
        identifierUri: secureWebhookEnabled ? secureWebhookIdentifierUri : null
        tenantId: secureWebhookEnabled ? tenant().tenantId : null
      }
    ]
  }
}

resource platform 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-firebell-platform-${appName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: platformShortName
    enabled: true
    emailReceivers: [
      for receiver in platformEmailReceivers: {
        name: receiver.name
        emailAddress: receiver.emailAddress
        useCommonAlertSchema: true
      }
    ]
    smsReceivers: [
      for receiver in platformSmsReceivers: {
        name: receiver.name
        countryCode: receiver.countryCode
        phoneNumber: receiver.phoneNumber
      }
    ]
  }
}

output intakeId string = intake.id
output platformId string = platform.id
