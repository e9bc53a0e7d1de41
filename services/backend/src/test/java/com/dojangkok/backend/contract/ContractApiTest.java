package com.dojangkok.backend.contract;

import static org.hamcrest.Matchers.containsInAnyOrder;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.startsWith;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.web.servlet.AutoConfigureMockMvc;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.http.MediaType;
import org.springframework.test.web.servlet.MockMvc;

@SpringBootTest
@AutoConfigureMockMvc
class ContractApiTest {

    private static final String VALID = """
            {"address": "서울특별시 마포구 월드컵로 1, 101호",
             "landlordName": "김집주", "tenantName": "이세입",
             "depositKrw": 10000000, "monthlyRentKrw": 650000,
             "startDate": "2026-03-01", "endDate": "2028-02-29"}
            """;

    @Autowired
    private MockMvc mvc;

    @Test
    void createReturns201WithLocationAndTheStoredContract() throws Exception {
        mvc.perform(post("/api/contracts").contentType(MediaType.APPLICATION_JSON).content(VALID))
                .andExpect(status().isCreated())
                .andExpect(header().string("Location", startsWith("/api/contracts/")))
                .andExpect(jsonPath("$.id").isNumber())
                .andExpect(jsonPath("$.address").value("서울특별시 마포구 월드컵로 1, 101호"))
                .andExpect(jsonPath("$.depositKrw").value(10000000))
                .andExpect(jsonPath("$.startDate").value("2026-03-01"))
                .andExpect(jsonPath("$.createdAt").isString());
    }

    @Test
    void listReturnsCreatedContracts() throws Exception {
        String body = VALID.replace("이세입", "박목록");
        mvc.perform(post("/api/contracts").contentType(MediaType.APPLICATION_JSON).content(body))
                .andExpect(status().isCreated());

        mvc.perform(get("/api/contracts"))
                .andExpect(status().isOk())
                .andExpect(content().contentTypeCompatibleWith(MediaType.APPLICATION_JSON))
                .andExpect(jsonPath("$", hasSize(greaterThanOrEqualTo(1))))
                .andExpect(jsonPath("$[*].tenantName", hasItem("박목록")));
    }

    @Test
    void createdContractCanBeFetchedById() throws Exception {
        String location = mvc.perform(post("/api/contracts").contentType(MediaType.APPLICATION_JSON).content(VALID))
                .andReturn().getResponse().getHeader("Location");

        mvc.perform(get(location))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.tenantName").value("이세입"));
    }

    @Test
    void invalidBodyIsA400ProblemDetailListingEachField() throws Exception {
        String invalid = """
                {"address": " ", "landlordName": "김집주", "tenantName": "이세입",
                 "depositKrw": -1, "startDate": "2026-03-01", "endDate": "2026-02-01"}
                """;
        mvc.perform(post("/api/contracts").contentType(MediaType.APPLICATION_JSON).content(invalid))
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.status").value(400))
                .andExpect(jsonPath("$.title").value("Invalid request"))
                .andExpect(jsonPath("$.instance").value("/api/contracts"))
                .andExpect(jsonPath("$.errors[*].field",
                        containsInAnyOrder("address", "depositKrw", "monthlyRentKrw", "periodValid")))
                .andExpect(jsonPath("$.errors[?(@.field == 'periodValid')].message")
                        .value("endDate must be after startDate"));
    }

    @Test
    void malformedJsonIsA400ProblemDetail() throws Exception {
        mvc.perform(post("/api/contracts").contentType(MediaType.APPLICATION_JSON).content("{not json"))
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.status").value(400));
    }

    @Test
    void unknownContractIsA404ProblemDetail() throws Exception {
        mvc.perform(get("/api/contracts/999999"))
                .andExpect(status().isNotFound())
                .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
                .andExpect(jsonPath("$.title").value("Contract not found"))
                .andExpect(jsonPath("$.detail").value("No contract with id 999999"));
    }
}
