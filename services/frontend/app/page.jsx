import { loadContracts } from '../lib/contracts';
import { ContractList } from './contract-list';

// Rendered on every request (SSR): the contracts are live data, and the build must not need a backend.
export const dynamic = 'force-dynamic';

export default async function HomePage() {
  const result = await loadContracts();
  if (!result.ok) {
    console.error(`[home] contracts unavailable: ${result.reason}`);
  }
  return (
    <main>
      <h1>도장콕 Dojangkok</h1>
      <p className="tagline">임차인을 위한 전월세 계약 도우미 — your rental-contract assistant</p>
      <h2>내 계약서</h2>
      <ContractList result={result} />
    </main>
  );
}
