import { describe, expect, it, vi } from 'vitest';
import { formatKrw, loadContracts } from '../lib/contracts';

const CONTRACT = {
  id: 1,
  address: '서울특별시 마포구 월드컵로 1, 101호',
  landlordName: '김집주',
  tenantName: '이세입',
  depositKrw: 10000000,
  monthlyRentKrw: 650000,
  startDate: '2026-03-01',
  endDate: '2028-02-29',
};

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('loadContracts', () => {
  it('returns the list from BACKEND_URL/api/contracts', async () => {
    const fetchImpl = vi.fn(async () => json([CONTRACT]));

    const result = await loadContracts({ backendUrl: 'http://backend:8080/', fetchImpl });

    expect(result).toEqual({ ok: true, contracts: [CONTRACT] });
    expect(fetchImpl).toHaveBeenCalledOnce();
    const [url, init] = fetchImpl.mock.calls[0];
    expect(url).toBe('http://backend:8080/api/contracts');
    expect(init.cache).toBe('no-store');
    expect(init.signal).toBeInstanceOf(AbortSignal);
  });

  it('reads BACKEND_URL from the environment by default', async () => {
    vi.stubEnv('BACKEND_URL', 'http://from-env:8080');
    const fetchImpl = vi.fn(async () => json([]));

    await loadContracts({ fetchImpl });

    expect(fetchImpl.mock.calls[0][0]).toBe('http://from-env:8080/api/contracts');
    vi.unstubAllEnvs();
  });

  it('falls back when BACKEND_URL is not set, without calling fetch', async () => {
    const fetchImpl = vi.fn();

    const result = await loadContracts({ backendUrl: '', fetchImpl });

    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/BACKEND_URL is not set/);
    expect(fetchImpl).not.toHaveBeenCalled();
  });

  it('falls back when the backend is unreachable', async () => {
    const fetchImpl = vi.fn(async () => {
      throw new TypeError('fetch failed');
    });

    const result = await loadContracts({ backendUrl: 'http://backend:8080', fetchImpl });

    expect(result).toEqual({ ok: false, reason: 'backend unreachable (http://backend:8080/api/contracts)' });
  });

  it('falls back when the backend does not answer in time', async () => {
    const fetchImpl = (url, { signal }) =>
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

    const result = await loadContracts({ backendUrl: 'http://backend:8080', fetchImpl, timeoutMs: 20 });

    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/no answer within 20 ms/);
  });

  it('falls back on an HTTP error status', async () => {
    const result = await loadContracts({
      backendUrl: 'http://backend:8080',
      fetchImpl: async () => json({ title: 'Internal Server Error' }, 503),
    });

    expect(result).toEqual({ ok: false, reason: 'backend answered HTTP 503 (http://backend:8080/api/contracts)' });
  });

  it('falls back on a body that is not JSON or not a list', async () => {
    const notJson = await loadContracts({
      backendUrl: 'http://backend:8080',
      fetchImpl: async () => new Response('<html>proxy error</html>', { status: 200 }),
    });
    const notList = await loadContracts({ backendUrl: 'http://backend:8080', fetchImpl: async () => json({}) });

    expect(notJson.reason).toMatch(/not JSON/);
    expect(notList.reason).toMatch(/not a list/);
  });
});

describe('formatKrw', () => {
  it('groups thousands and appends 원', () => {
    expect(formatKrw(10000000)).toBe('10,000,000원');
    expect(formatKrw(0)).toBe('0원');
  });
});
