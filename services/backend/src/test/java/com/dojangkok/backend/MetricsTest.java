package com.dojangkok.backend;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.client.TestRestTemplate;
import org.springframework.http.HttpStatus;

/** What Prometheus scrapes for the analysis gate, over a real socket: request durations as a histogram. */
// Spring Boot turns metrics exporters off in tests; the scrape endpoint is what these tests are about.
@AutoConfigureObservability
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class MetricsTest {

    @Autowired
    private TestRestTemplate http;

    @Test
    void requestsAreCountedAndTimedInHistogramBuckets() {
        assertThat(http.getForEntity("/api/contracts", String.class).getStatusCode()).isEqualTo(HttpStatus.OK);

        String scraped = http.getForObject("/actuator/prometheus", String.class);

        assertThat(scraped).containsPattern(
                "http_server_requests_seconds_bucket\\{[^}]*status=\"200\"[^}]*uri=\"/api/contracts\"[^}]*le=\"");
        assertThat(scraped).containsPattern(
                "http_server_requests_seconds_count\\{[^}]*status=\"200\"[^}]*uri=\"/api/contracts\"[^}]*} [1-9]");
    }
}
