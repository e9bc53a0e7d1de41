package com.dojangkok.backend.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class ContractStoreTest {

    private static final Instant NOW = Instant.parse("2026-01-12T14:00:00Z");

    private static ContractRequest request(String tenant) {
        return new ContractRequest("  부산광역시 해운대구 1  ", "최집주", tenant, 5_000_000L, 400_000L,
                LocalDate.of(2026, 1, 1), LocalDate.of(2027, 1, 1));
    }

    @Test
    void assignsIncreasingIdsAndListsInCreationOrder() {
        ContractStore store = new ContractStore(Clock.fixed(NOW, ZoneOffset.UTC));

        Contract first = store.create(request("가"));
        Contract second = store.create(request("나"));

        assertThat(second.id()).isGreaterThan(first.id());
        assertThat(store.list()).extracting(Contract::tenantName).containsExactly("가", "나");
        assertThat(first.createdAt()).isEqualTo(NOW);
        assertThat(first.address()).isEqualTo("부산광역시 해운대구 1");
        assertThat(store.find(first.id())).contains(first);
        assertThat(store.find(12345)).isEmpty();
    }
}
