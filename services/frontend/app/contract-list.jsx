import { formatKrw } from '../lib/contracts';

/**
 * The contracts, or a notice that they cannot be shown. Pure: props in, markup out. The failure reason is
 * logged by the page, not rendered: it names internal hosts a visitor has no business seeing.
 */
export function ContractList({ result }) {
  if (!result.ok) {
    return (
      <section role="status" className="notice">
        <h2>계약서를 불러올 수 없습니다</h2>
        <p>Contracts are temporarily unavailable. Please try again shortly.</p>
      </section>
    );
  }
  if (result.contracts.length === 0) {
    return (
      <section className="notice">
        <p>아직 등록된 계약서가 없습니다. No contracts yet.</p>
      </section>
    );
  }
  return (
    <ul className="contracts">
      {result.contracts.map((contract) => (
        <li key={contract.id} className="contract">
          <strong>{contract.address}</strong>
          <span>
            보증금 {formatKrw(contract.depositKrw)} · 월세 {formatKrw(contract.monthlyRentKrw)}
          </span>
          <span>
            {contract.startDate} ~ {contract.endDate} · 임대인 {contract.landlordName} · 임차인 {contract.tenantName}
          </span>
        </li>
      ))}
    </ul>
  );
}
