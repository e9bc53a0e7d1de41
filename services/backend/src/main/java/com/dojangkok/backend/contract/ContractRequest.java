package com.dojangkok.backend.contract;

import com.fasterxml.jackson.annotation.JsonIgnore;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.PositiveOrZero;
import jakarta.validation.constraints.Size;
import java.time.LocalDate;

/** What a client sends to register a contract; every rule here becomes a field error in the 400 problem. */
public record ContractRequest(
        @NotBlank @Size(max = 200) String address,
        @NotBlank @Size(max = 100) String landlordName,
        @NotBlank @Size(max = 100) String tenantName,
        @NotNull @PositiveOrZero Long depositKrw,
        @NotNull @PositiveOrZero Long monthlyRentKrw,
        @NotNull LocalDate startDate,
        @NotNull LocalDate endDate) {

    /** A lease must end after it starts; missing dates are reported by @NotNull instead. */
    @JsonIgnore
    @AssertTrue(message = "endDate must be after startDate")
    public boolean isPeriodValid() {
        return startDate == null || endDate == null || endDate.isAfter(startDate);
    }
}
