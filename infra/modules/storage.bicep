// Firebell's only database, the Functions host's storage and the status page's web server, in one account.
//
// - Shared-key access is off: the host (AzureWebJobsStorage__accountName/__credential/__clientId), the code
//   (azure-identity) and deployments all authenticate with Entra ID.
// - No anonymous blob access anywhere; the one public surface is the static website endpoint ($web), which is
//   served by the web endpoint and is not governed by allowBlobPublicAccess.
// - Tables, queues (each with its -poison twin) and containers are created here, so nothing depends on the code's
//   create-if-missing at first use (which still happens, and needs the same roles).

param name string
param location string
param tags object = {}

@description('Principal id of the app identity that gets the data roles.')
param appPrincipalId string

@description('Tables Firebell keeps its state in.')
param tables array

@description('Queues between the functions; each also gets its -poison twin, where the host moves a message after maxDequeueCount deliveries.')
param queues array

@description('Private blob containers (review drafts, readiness report).')
param containers array

@description('Container the Flex Consumption deployment package is uploaded to.')
param deploymentContainerName string

@description('Enable the static website ($web) with a deployment script. Turn off where policy forbids the deployment script\'s own key-based storage; then run docs/deploy.md\'s one az command instead.')
param enableStaticWebsite bool = true

@description('Index document of the status site.')
param indexDocument string = 'index.html'

@description('Redundancy. ZRS keeps the incident store up through a zone outage for a few cents a month.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_ZRS'

@description('Changes force the static-website script to run again (default: every deployment).')
param staticWebsiteRunTag string = utcNow()

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  // Blob: Contributor, not Owner. The host needs to create its containers (azure-webjobs-hosts, -secrets), read and
  // write blobs and take blob leases (timer singleton locks); the code writes $web and postmortems; Flex reads its
  // package. All of that is in Contributor. Owner only adds POSIX ACL and ownership changes
  // (blobs/modifyPermissions, manageOwnership), which exist on hierarchical-namespace accounts only: this one has
  // none. (Switch to Owner only if a blob trigger is added: its docs ask for Owner.)
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Queue: Contributor covers what the triggers and the code do — read, peek, delete, update (visibility), add
  // messages and create queues. "Queue Data Message Processor" and "Message Sender" are strict subsets of it, so
  // assigning them as well would add nothing.
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Table: the store reads, inserts, merges, deletes entities and creates its tables.
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Control plane, for the setup identity only: Set Blob Service Properties (static website) is authorised by
  // Microsoft.Storage/storageAccounts/blobServices/write, which no data role includes.
  storageAccountContributor: '17d1049b-9a84-46fb-8f53-869881c3d3ab'
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  //checkov:skip=CKV_AZURE_35: the status page is the static website (public by design) and Flex Consumption without VNet integration reaches storage from dynamic addresses; access is Entra ID only (shared keys off, no anonymous blobs)
  //checkov:skip=CKV_AZURE_59: same: the $web endpoint must be public for the status page; allowBlobPublicAccess is false, so no container or blob is anonymous
  //checkov:skip=CKV_AZURE_206: false positive: the SKU is the skuName parameter, default Standard_ZRS (replicated across zones); checkov does not resolve parameter defaults
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    isLocalUserEnabled: false
    isSftpEnabled: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource privateContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in concat(containers, [deploymentContainerName]): {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource workQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in queues: {
    parent: queueService
    name: queue
  }
]

resource poisonQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in queues: {
    parent: queueService
    name: '${queue}-poison'
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource stateTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in tables: {
    parent: tableService
    name: table
  }
]

resource appDataRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [roles.blobDataContributor, roles.queueDataContributor, roles.tableDataContributor]: {
    name: guid(account.id, appPrincipalId, role)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// --- The static website, as code -------------------------------------------------------------------------------
// Static website is a property of the Blob service's *data plane* (Set Blob Service Properties, x-ms-version
// StaticWebsite element): Microsoft.Storage/storageAccounts/blobServices has no such property, so neither Bicep nor
// ARM can switch it on. A deploymentScripts resource runs the one az command that can, inside the deployment, so
// `azd up` (or any `az deployment`) leaves a working $web with no manual step and no azd-only hook. It runs as its own
// small identity with Storage Account Contributor on this account only: the app identity keeps data roles alone.
// Limitation: the deployment-script service stages the script in a storage account of its own that uses key
// access; where policy denies key access everywhere, set enableStaticWebsite=false and run the command by hand
// (docs/deploy.md).
resource setupIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-setup-${name}'
  location: location
  tags: tags
}

resource setupRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enableStaticWebsite) {
  name: guid(account.id, 'setup', roles.storageAccountContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageAccountContributor)
    principalId: setupIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource staticWebsite 'Microsoft.Resources/deploymentScripts@2023-08-01' = if (enableStaticWebsite) {
  name: 'enable-static-website-${name}'
  location: location
  tags: tags
  kind: 'AzureCLI'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${setupIdentity.id}': {}
    }
  }
  dependsOn: [
    setupRole
    blobService
  ]
  properties: {
    azCliVersion: '2.61.0'
    forceUpdateTag: staticWebsiteRunTag
    retentionInterval: 'PT1H'
    cleanupPreference: 'OnSuccess'
    timeout: 'PT10M'
    environmentVariables: [
      {
        name: 'ACCOUNT'
        value: account.name
      }
      {
        name: 'INDEX_DOCUMENT'
        value: indexDocument
      }
    ]
    // Role assignments take a minute or two to reach the data plane: the script retries rather than fail.
    scriptContent: loadTextContent('../scripts/enable-static-website.sh')
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output webEndpoint string = account.properties.primaryEndpoints.web
