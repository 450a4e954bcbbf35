// Lets the app's managed identity call Communication Services (SMS, Call Automation) with Entra ID tokens instead of
// the resource's access key, so no key sits in the app settings. Not Contributor: that role (and the built-in
// "Communication and Email Service Owner", whose actions are CommunicationServices/*) can list and regenerate the
// access keys, i.e. hand out the very secret Entra ID replaces. A custom role with only the resource's Read and
// Write actions, the set Microsoft documents for Entra-authenticated sending (its "custom role to limit permissions"
// guidance for Communication Services), covers sending and calling without listKeys or regenerateKey.
// useBuiltInRole falls back to the built-in owner role should the data plane refuse the custom one (403 on SMS).
// The resource itself is provisioned apart (docs/oncall.md: its phone number is bought and verified by hand).

@description('Name of the existing Communication Services resource (in the resource group this module is deployed to).')
param communicationServicesName string

@description('Principal id of the app identity that sends SMS and places calls.')
param appPrincipalId string

@description('true: grant the built-in "Communication and Email Service Owner" role instead of the narrower custom one.')
param useBuiltInRole bool = false

var communicationAndEmailServiceOwner = '09976791-48a7-449e-bb21-39d1a415f350'
var senderRoleName = guid(resourceGroup().id, 'firebell-communication-sender')

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServicesName
}

resource senderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!useBuiltInRole) {
  name: senderRoleName
  properties: {
    roleName: 'Firebell Communication Services sender (${resourceGroup().name})'
    description: 'Send SMS and place calls with Entra ID on Communication Services; cannot read or regenerate access keys.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Communication/CommunicationServices/Read'
          'Microsoft.Communication/CommunicationServices/Write'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

var builtInRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', communicationAndEmailServiceOwner)
var roleDefinitionId = useBuiltInRole ? builtInRoleId : senderRole.id

resource appRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, appPrincipalId, useBuiltInRole ? communicationAndEmailServiceOwner : senderRoleName)
  scope: communication
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
