package com.dojangkok.backend.contract;

import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.stereotype.Component;

/**
 * Contracts kept in memory, in creation order. Enough for the pipeline's smoke tests; a MySQL-backed store
 * (§7.1) would replace this class behind the same methods.
 */
@Component
public class ContractStore {

    private final Map<Long, Contract> contracts = new ConcurrentSkipListMap<>();
    private final AtomicLong nextId = new AtomicLong(1);
    private final Clock clock;

    public ContractStore() {
        this(Clock.systemUTC());
    }

    ContractStore(Clock clock) {
        this.clock = clock;
    }

    public Contract create(ContractRequest request) {
        long id = nextId.getAndIncrement();
        Contract contract = new Contract(
                id,
                request.address().strip(),
                request.landlordName().strip(),
                request.tenantName().strip(),
                request.depositKrw(),
                request.monthlyRentKrw(),
                request.startDate(),
                request.endDate(),
                clock.instant());
        contracts.put(id, contract);
        return contract;
    }

    public List<Contract> list() {
        return List.copyOf(contracts.values());
    }

    public Optional<Contract> find(long id) {
        return Optional.ofNullable(contracts.get(id));
    }
}
