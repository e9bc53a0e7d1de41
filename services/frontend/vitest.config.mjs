import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Next compiles JSX itself; for tests esbuild does it with React's automatic runtime.
  esbuild: { jsx: 'automatic' },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.{js,jsx}'],
  },
});
