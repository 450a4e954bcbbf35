// Key Vault for Firebell's secrets: the Teams outgoing-webhook token (HMAC key), the Azure Boards service hook's
// shared secret and, when Boards is reached with a PAT instead of the managed identity, the Azure DevOps PAT. RBAC authorisation (no access policies), soft delete
// and purge protection on. The app identity gets Key Vault Secrets User (read secret values) on this vault only;
// app settings reference the secrets with @Microsoft.KeyVault(SecretUri=...) resolved as that identity
// (keyVaultReferenceIdentity on the site).
//
// A secret is created only when its value is given (or referenced when it is said to be in the vault already). A reference to a secret that does not exist resolves to the
// literal reference text, which the code would take for a token (Teams would answer 401 instead of "not
// configured", Boards would send a bogus PAT instead of using the identity), so an absent secret gives an empty
// setting instead.

param name string
param location string
param tags object = {}

@description('Principal id of the app identity that reads the secrets.')
param appPrincipalId string

@secure()
@description('Teams outgoing webhook security token (base64). Empty: /api/teams answers 503 "not configured".')
param teamsOutgoingWebhookToken string = ''

@secure()
@description('Azure DevOps personal access token. Empty: Boards uses the managed identity.')
param azureDevOpsPat string = ''

@secure()
@description('Shared secret of the Azure DevOps service hook (POST /api/boards/events). Empty: the route answers 503 "not configured".')
param boardsServiceHookSecret string = ''

@description('The boards-service-hook-secret secret was put in the vault by hand: reference it.')
param boardsServiceHookSecretInVault bool = false

@description('The teams-outgoing-webhook-token secret was put in the vault by hand (az keyvault secret set): reference it even when no value is given here, so that a pipeline never needs the secret.')
param teamsTokenInVault bool = false

@description('The azure-devops-pat secret was put in the vault by hand: reference it.')
param azureDevOpsPatInVault bool = false

var teamsSecretName = 'teams-outgoing-webhook-token'
var devOpsSecretName = 'azure-devops-pat'
var boardsHookSecretName = 'boards-service-hook-secret'

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  //checkov:skip=CKV_AZURE_109: Key Vault references from a Flex Consumption app without VNet integration resolve over the public endpoint (App Service is not a firewall-trusted service); access is Entra RBAC only
  //checkov:skip=CKV_AZURE_189: same reason: public network access is needed for the app's Key Vault references without VNet integration
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource teamsToken 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamsOutgoingWebhookToken)) {
  //checkov:skip=CKV_AZURE_41: the Teams token never expires and a PAT's expiry is set in Azure DevOps; a vault expiry would make the reference fail and silently unconfigure Teams
  //checkov:skip=CKV_AZURE_114: false positive: contentType is set below; checkov does not see the properties of a conditional (if) resource
  parent: vault
  name: teamsSecretName
  properties: {
    value: teamsOutgoingWebhookToken
    contentType: 'text/plain; base64 HMAC key of the Teams outgoing webhook'
  }
}

resource devOpsPat 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(azureDevOpsPat)) {
  //checkov:skip=CKV_AZURE_41: a PAT's expiry is set (and renewed) in Azure DevOps; a second expiry in the vault would only break Boards earlier
  //checkov:skip=CKV_AZURE_114: false positive: contentType is set below; checkov does not see the properties of a conditional (if) resource
  parent: vault
  name: devOpsSecretName
  properties: {
    value: azureDevOpsPat
    contentType: 'text/plain; Azure DevOps personal access token (Work Items read & write)'
  }
}

resource boardsHookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(boardsServiceHookSecret)) {
  //checkov:skip=CKV_AZURE_41: the service hook's secret is rotated by hand in Azure DevOps and here together; a vault expiry would silently unconfigure the hook
  //checkov:skip=CKV_AZURE_114: false positive: contentType is set below; checkov does not see the properties of a conditional (if) resource
  parent: vault
  name: boardsHookSecretName
  properties: {
    value: boardsServiceHookSecret
    contentType: 'text/plain; shared secret of the Azure DevOps service hook'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// Versionless URIs: the app picks up a rotated secret within a day (or at once on restart), with no redeploy.
output teamsTokenReference string = (!empty(teamsOutgoingWebhookToken) || teamsTokenInVault) ? '@Microsoft.KeyVault(SecretUri=${vault.properties.vaultUri}secrets/${teamsSecretName})' : ''
output devOpsPatReference string = (!empty(azureDevOpsPat) || azureDevOpsPatInVault) ? '@Microsoft.KeyVault(SecretUri=${vault.properties.vaultUri}secrets/${devOpsSecretName})' : ''
output boardsServiceHookSecretReference string = (!empty(boardsServiceHookSecret) || boardsServiceHookSecretInVault) ? '@Microsoft.KeyVault(SecretUri=${vault.properties.vaultUri}secrets/${boardsHookSecretName})' : ''
