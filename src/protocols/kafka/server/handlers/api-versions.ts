/** ApiVersions (18): the versions in SUPPORTED_VERSIONS. Versions above ours are answered by the session (v0 body, UNSUPPORTED_VERSION). */
import type { ApiVersionsResponseApiVersion } from '../../generated/api-versions.js';
import { SUPPORTED_VERSIONS, type ApiHandler } from '../handler.js';
import { KafkaError } from '../error-codes.js';

export function apiVersionsList(): ApiVersionsResponseApiVersion[] {
  return [...SUPPORTED_VERSIONS].map(([apiKey, [minVersion, maxVersion]]) => ({ apiKey, minVersion, maxVersion }));
}

export const handleApiVersions: ApiHandler<18> = () => ({
  errorCode: KafkaError.NONE,
  apiKeys: apiVersionsList(),
  throttleTimeMs: 0,
  supportedFeatures: [],
  finalizedFeaturesEpoch: -1,
  finalizedFeatures: [],
  zkMigrationReady: false,
});
