import { defineConfig } from 'vitest/config';

/**
 * The one vitest configuration every package uses. Workspace packages are resolved through their
 * `source` export condition, so tests run against TypeScript sources without a prior build.
 */
export function easkitVitestConfig(overrides: { testTimeout?: number } = {}) {
  return defineConfig({
    resolve: { conditions: ['source', 'module', 'node', 'development|production'] },
    ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'] } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      passWithNoTests: true,
      testTimeout: overrides.testTimeout ?? 20_000,
      hookTimeout: 120_000,
      reporters: process.env.CI ? ['default'] : ['default'],
    },
  });
}
