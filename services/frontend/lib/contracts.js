// Server-side access to the backend's contracts API. Never throws: the page renders either the contracts
// or a message saying why they are missing, so a backend outage degrades the page instead of failing it.

export const DEFAULT_TIMEOUT_MS = 3000;

/**
 * @typedef {{id: number, address: string, landlordName: string, tenantName: string,
 *   depositKrw: number, monthlyRentKrw: number, startDate: string, endDate: string}} Contract
 * @typedef {{ok: true, contracts: Contract[]} | {ok: false, reason: string}} ContractsResult
 */

/**
 * The contracts list from `${backendUrl}/api/contracts`.
 * @param {{backendUrl?: string, fetchImpl?: typeof fetch, timeoutMs?: number}} [options]
 * @returns {Promise<ContractsResult>}
 */
export async function loadContracts({
  backendUrl = process.env.BACKEND_URL,
  fetchImpl = globalThis.fetch,
  timeoutMs = DEFAULT_TIMEOUT_MS,
} = {}) {
  if (!backendUrl) {
    return { ok: false, reason: 'BACKEND_URL is not set; start the frontend with BACKEND_URL=http://backend:8080' };
  }
  const url = `${backendUrl.replace(/\/+$/, '')}/api/contracts`;
  let response;
  try {
    response = await fetchImpl(url, {
      headers: { accept: 'application/json' },
      cache: 'no-store',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const why = error?.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'unreachable';
    return { ok: false, reason: `backend ${why} (${url})` };
  }
  if (!response.ok) {
    return { ok: false, reason: `backend answered HTTP ${response.status} (${url})` };
  }
  let body;
  try {
    body = await response.json();
  } catch {
    return { ok: false, reason: `backend sent a body that is not JSON (${url})` };
  }
  if (!Array.isArray(body)) {
    return { ok: false, reason: `backend sent an unexpected payload, not a list (${url})` };
  }
  return { ok: true, contracts: body };
}

const won = new Intl.NumberFormat('ko-KR');

/** "10,000,000원" — amounts as a Korean tenant reads them. */
export function formatKrw(amount) {
  return `${won.format(amount)}원`;
}
