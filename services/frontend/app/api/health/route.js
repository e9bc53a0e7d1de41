// Liveness for the ALB target group and the image HEALTHCHECK: answers without touching the backend,
// so a backend outage never takes the frontend out of rotation.
export const dynamic = 'force-dynamic';

export function GET() {
  return Response.json({ status: 'ok' }, { headers: { 'cache-control': 'no-store' } });
}
