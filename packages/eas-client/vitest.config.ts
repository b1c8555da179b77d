import { easkitVitestConfig } from '../../tooling/vitest.shared.ts';

export default easkitVitestConfig();
