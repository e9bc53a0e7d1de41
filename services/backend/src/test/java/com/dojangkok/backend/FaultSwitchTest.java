package com.dojangkok.backend;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.client.TestRestTemplate;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;

/** A release built with FAULT_ERROR_RATIO=1 fails its users, health stays up, and the metrics show the failures. */
// Spring Boot turns metrics exporters off in tests; the scrape endpoint is what these tests are about.
@AutoConfigureObservability
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = "fault.error-ratio=1")
class FaultSwitchTest {

    @Autowired
    private TestRestTemplate http;

    @Test
    void everyApiRequestFailsAsAProblemDetail() {
        ResponseEntity<String> response = http.getForEntity("/api/contracts", String.class);

        assertThat(response.getStatusCode()).isEqualTo(HttpStatus.INTERNAL_SERVER_ERROR);
        assertThat(response.getHeaders().getContentType().isCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON))
                .isTrue();
        assertThat(response.getBody()).contains("\"title\":\"Injected fault\"", "FAULT_ERROR_RATIO");
    }

    @Test
    void healthAndMetricsAreNeverFaultedAndCountTheFailures() {
        http.getForEntity("/api/contracts", String.class);

        assertThat(http.getForEntity("/actuator/health", String.class).getStatusCode()).isEqualTo(HttpStatus.OK);
        ResponseEntity<String> scraped = http.getForEntity("/actuator/prometheus", String.class);
        assertThat(scraped.getStatusCode()).isEqualTo(HttpStatus.OK);
        assertThat(scraped.getBody()).containsPattern("http_server_requests_seconds_count\\{[^}]*status=\"500\"");
    }
}
