package com.dojangkok.backend.contract;

import java.time.Instant;
import java.time.LocalDate;

/** A stored rental contract, as the API returns it. Amounts are whole Korean won. */
public record Contract(
        long id,
        String address,
        String landlordName,
        String tenantName,
        long depositKrw,
        long monthlyRentKrw,
        LocalDate startDate,
        LocalDate endDate,
        Instant createdAt) {
}
