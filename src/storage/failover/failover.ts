// Failover storages (WALG_FAILOVER_STORAGES): the public face of src/storage/failover/. Importers use this module;
// the parts live beside it:
// - options.ts       failover configs (by name, after the primary 'default') and check/cache settings
// - status-cache.ts  alive/dead statuses in memory and ~/.walg_storage_{ro,rw}_status_cache, lifetime, EMA weights
// - check.ts         the explicit read (list) and read-write (put + delete CHECK_OBJECT) aliveness checks
// - reporting.ts     the member wrapper that feeds every operation's outcome to the status cache
// - storage-set.ts   StorageSet (first alive for writers, all alive for readers) and openStorageSet
// - views.ts         the merged read view and the routed read/write view over several storages
// compat: WAL-G's internal/multistorage.

export { CHECK_OBJECT, checkStorage } from './check.ts';
export { DEFAULT_STORAGE, failoverConfig, failoverConfigs, failoverSettings } from './options.ts';
export type { FailoverSettings } from './options.ts';
export { WEIGHT } from './status-cache.ts';
export { StorageSet, openStorageSet } from './storage-set.ts';
export { mergedStorage, routedStorage } from './views.ts';
