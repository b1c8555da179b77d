import { runMailboxConformance } from './conformance.js';
import { MemoryMailboxStore } from './memory.js';

runMailboxConformance({ name: 'MemoryMailboxStore', create: () => new MemoryMailboxStore() });
