// The one user-assigned managed identity Firebell runs as. Every data-plane grant (storage, Key Vault, Application
// Insights) goes to this identity; its client id is what the host (AzureWebJobsStorage__clientId), azure-identity
// (AZURE_CLIENT_ID) and the Key Vault references (keyVaultReferenceIdentity) use.

@description('Name of the user-assigned identity.')
param name string

param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
