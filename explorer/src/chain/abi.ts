// The parts of prova's contracts the explorer reads, in viem's human-readable form. They follow
// contracts/src/interfaces/*.sol; tests/unit.test.mjs compares them with the compiled interfaces.
import { parseAbi } from 'viem';

export const registryAbi = parseAbi([
  'struct Publisher { address admin; uint64 registeredAt; address pendingAdmin; string name; string metadataURI; }',
  'struct AttestorKey { address publisher; uint64 addedAt; uint64 revokedAt; uint64 compromisedSince; }',
  'struct ModelVersion { bytes32 modelId; bytes32 parent; bytes32 metadataHash; address publisher; uint64 registeredAt; address attestor; uint64 registeredBlock; uint64 revokedAt; uint64 committedAt; uint64 committedBlock; string metadataURI; }',
  'struct OutputBatch { bytes32 versionHash; address attestor; uint64 leafCount; uint64 windowStart; uint64 windowEnd; uint64 anchoredAt; uint64 anchoredBlock; uint64 revokedAt; }',
  'function getPublisher(address publisher) view returns (Publisher)',
  'function getAttestorKey(address key) view returns (AttestorKey)',
  'function getModelVersion(address publisher, bytes32 versionHash) view returns (ModelVersion)',
  'function isSignedByCompromisedKey(address publisher, bytes32 versionHash) view returns (bool)',
  'function getOutputBatch(bytes32 root) view returns (OutputBatch)',
  'function verifyOutput(bytes32 root, bytes32 versionHash, bytes32 requestHash, bytes32 responseHash, uint64 timestamp, bytes32 salt, bytes32[] proof) view returns (bool)',
  'function verifyFile(address publisher, bytes32 versionHash, string path, uint64 size, bytes32 sha256Digest, bytes32[] proof) view returns (bool)',
  'event PublisherRegistered(address indexed publisher, address indexed admin, string name, string metadataURI)',
  'event PublisherAdminTransferStarted(address indexed publisher, address indexed admin, address indexed pendingAdmin)',
  'event PublisherAdminTransferred(address indexed publisher, address indexed previousAdmin, address indexed newAdmin)',
  'event AttestorAdded(address indexed publisher, address indexed key)',
  'event AttestorRevoked(address indexed publisher, address indexed key)',
  'event AttestorCompromised(address indexed publisher, address indexed key, uint64 since)',
  'event ModelVersionCommitted(bytes32 indexed commitment)',
  'event ModelVersionRegistered(bytes32 indexed versionHash, bytes32 indexed modelId, address indexed publisher, bytes32 parent, address attestor, string metadataURI, bytes32 metadataHash, uint64 committedAt, uint64 committedBlock, string modelName)',
  'event ModelVersionRevoked(bytes32 indexed versionHash, address indexed publisher, string reason)',
  'event OutputsAttested(bytes32 indexed root, bytes32 indexed versionHash, address indexed publisher, address attestor, uint64 leafCount, uint64 windowStart, uint64 windowEnd, string batchURI)',
  'event OutputBatchRevoked(bytes32 indexed root, address indexed publisher, string reason)',
]);

/** ERC-8004 identity registry: registration and ownership events. */
export const identityAbi = parseAbi([
  'event Registered(uint256 indexed agentId, string agentURI, address indexed owner)',
  'event Transfer(address indexed from, address indexed to, uint256 indexed tokenId)',
  'function ownerOf(uint256 tokenId) view returns (address)',
]);

/** ERC-8004 reputation registry: feedback events. */
export const reputationAbi = parseAbi([
  'event NewFeedback(uint256 indexed agentId, address indexed clientAddress, uint64 feedbackIndex, int128 value, uint8 valueDecimals, string indexed indexedTag1, string tag1, string tag2, string endpoint, string feedbackURI, bytes32 feedbackHash)',
]);
