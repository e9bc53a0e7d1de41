// The page as the server renders it, against a real HTTP backend on 127.0.0.1 (no network beyond loopback).
import { createServer } from 'node:http';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import HomePage from '../app/page';
import { ContractList } from '../app/contract-list';

const CONTRACT = {
  id: 7,
  address: '부산광역시 해운대구 우동 1, 202호',
  landlordName: '최집주',
  tenantName: '정세입',
  depositKrw: 5000000,
  monthlyRentKrw: 400000,
  startDate: '2026-01-01',
  endDate: '2027-12-31',
};

/** A stand-in backend on an ephemeral loopback port; resolves to its base URL and a close function. */
async function startBackend(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function renderHomePage() {
  return renderToStaticMarkup(await HomePage());
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('home page (server-side rendered)', () => {
  it('shows the product name and the contracts when the backend is up', async () => {
    const requests = [];
    const backend = await startBackend((req, res) => {
      requests.push(req.url);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify([CONTRACT]));
    });
    vi.stubEnv('BACKEND_URL', backend.url);
    try {
      const html = await renderHomePage();

      expect(html).toContain('도장콕 Dojangkok');
      expect(html).toContain('부산광역시 해운대구 우동 1, 202호');
      expect(html).toContain('보증금 5,000,000원');
      expect(html).toContain('월세 400,000원');
      expect(html).not.toContain('계약서를 불러올 수 없습니다');
      expect(requests).toEqual(['/api/contracts']);
    } finally {
      await backend.close();
    }
  });

  it('still renders, with a fallback notice, when the backend is down', async () => {
    const backend = await startBackend(() => {});
    await backend.close(); // the port is now closed: connection refused, like a stopped container
    vi.stubEnv('BACKEND_URL', backend.url);
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});

    const html = await renderHomePage();

    expect(html).toContain('도장콕 Dojangkok');
    expect(html).toContain('계약서를 불러올 수 없습니다');
    expect(html).not.toContain(backend.url); // internal addresses stay in the server log
    expect(log).toHaveBeenCalledWith(expect.stringContaining(`backend unreachable (${backend.url}/api/contracts)`));
  });

  it('shows a fallback notice when the backend answers with an error', async () => {
    const backend = await startBackend((req, res) => {
      res.writeHead(500, { 'content-type': 'application/problem+json' });
      res.end('{"status":500}');
    });
    vi.stubEnv('BACKEND_URL', backend.url);
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const html = await renderHomePage();

      expect(html).toContain('계약서를 불러올 수 없습니다');
      expect(log).toHaveBeenCalledWith(expect.stringContaining('backend answered HTTP 500'));
    } finally {
      await backend.close();
    }
  });
});

describe('ContractList', () => {
  it('says so when there are no contracts yet', () => {
    const html = renderToStaticMarkup(<ContractList result={{ ok: true, contracts: [] }} />);

    expect(html).toContain('No contracts yet');
  });

  it('renders one item per contract', () => {
    const second = { ...CONTRACT, id: 8, address: '대전광역시 유성구 2' };
    const html = renderToStaticMarkup(<ContractList result={{ ok: true, contracts: [CONTRACT, second] }} />);

    expect(html.match(/<li /g)).toHaveLength(2);
    expect(html).toContain('대전광역시 유성구 2');
  });
});
