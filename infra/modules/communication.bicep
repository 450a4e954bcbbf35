// Lets the app's managed identity call Communication Services (SMS, Call Automation) with Entra ID tokens instead of
// the resource's access key, so no key sits in the app settings: Contributor on that one resource, the role
// Microsoft's quickstart "Authenticate using Microsoft Entra ID" (Communication Services) assigns. The resource
// itself is provisioned apart (docs/oncall.md: its phone number is bought and verified by hand).

@description('Name of the existing Communication Services resource (in the resource group this module is deployed to).')
param communicationServicesName string

@description('Principal id of the app identity that sends SMS and places calls.')
param appPrincipalId string

var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServicesName
}

resource appRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, appPrincipalId, contributor)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
