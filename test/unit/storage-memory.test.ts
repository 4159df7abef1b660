// Conformance suite on the in-memory driver.
import { runStorageSuite } from '../conformance/storage-suite.ts';
import { MemoryStorage } from '../../src/storage/memory.ts';

runStorageSuite('memory', async () => new MemoryStorage(), { bigUploadMB: 20 });
