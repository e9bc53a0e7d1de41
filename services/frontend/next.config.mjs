/** @type {import('next').NextConfig} */
const nextConfig = {
  // A self-contained server.js with only the traced node_modules: the runtime image needs no npm install.
  output: 'standalone',
  poweredByHeader: false,
  reactStrictMode: true,
  // No next/image optimisation, so sharp (a native module) is never loaded: the image is built on the
  // build platform and run on arm64, and nothing native has to match.
  images: { unoptimized: true },
  // ...and is left out of the standalone trace: 19 MB of build-platform binaries the runtime never loads.
  outputFileTracingExcludes: { '*': ['node_modules/sharp/**', 'node_modules/@img/**'] },
};

export default nextConfig;
