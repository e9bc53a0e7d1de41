package com.dojangkok.backend.contract;

import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.ErrorResponseException;

/** Rendered by Spring MVC as a 404 problem detail (RFC 7807) naming the missing id. */
public class ContractNotFoundException extends ErrorResponseException {

    public ContractNotFoundException(long id) {
        super(HttpStatus.NOT_FOUND, problem(id), null);
    }

    private static ProblemDetail problem(long id) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.NOT_FOUND, "No contract with id " + id);
        problem.setTitle("Contract not found");
        return problem;
    }
}
