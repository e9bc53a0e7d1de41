package com.dojangkok.backend;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.concurrent.ThreadLocalRandom;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.lang.NonNull;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Release drills: FAULT_LATENCY_SECONDS and FAULT_ERROR_RATIO slow down or fail every request but the actuator's
 * (health, metrics), as ai-server's switch does. It runs inside Spring's request metrics, so what it injects is
 * what Prometheus and the analysis gate see.
 */
@Component
public class FaultSwitch extends OncePerRequestFilter {

    private final double latencySeconds;
    private final double errorRatio;
    private final ObjectMapper json;

    public FaultSwitch(@Value("${fault.latency-seconds:0}") double latencySeconds,
                       @Value("${fault.error-ratio:0}") double errorRatio, ObjectMapper json) {
        this.latencySeconds = latencySeconds;
        this.errorRatio = errorRatio;
        this.json = json;
    }

    @Override
    protected boolean shouldNotFilter(@NonNull HttpServletRequest request) {
        return (latencySeconds <= 0 && errorRatio <= 0) || request.getRequestURI().startsWith("/actuator");
    }

    @Override
    protected void doFilterInternal(@NonNull HttpServletRequest request, @NonNull HttpServletResponse response,
                                    @NonNull FilterChain chain) throws ServletException, IOException {
        if (latencySeconds > 0) {
            try {
                Thread.sleep((long) (latencySeconds * 1000));
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (ThreadLocalRandom.current().nextDouble() < errorRatio) {
            ProblemDetail problem = ProblemDetail.forStatusAndDetail(
                    HttpStatus.INTERNAL_SERVER_ERROR, "FAULT_ERROR_RATIO is set on this release");
            problem.setTitle("Injected fault");
            response.setStatus(HttpStatus.INTERNAL_SERVER_ERROR.value());
            response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
            json.writeValue(response.getWriter(), problem);
            return;
        }
        chain.doFilter(request, response);
    }
}
