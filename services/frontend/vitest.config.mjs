import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Next compiles JSX itself; for tests esbuild does it with React's automatic runtime.
  esbuild: { jsx: 'automatic' },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.{js,jsx}'],
    // The suite runs inside a container beside other builds on a shared machine, where a first server-side
    // render has taken over vitest's default 5 s. A deadline here catches a hang, not slowness.
    testTimeout: 60_000,
  },
});
