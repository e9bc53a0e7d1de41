package com.dojangkok.backend.contract;

import jakarta.validation.Valid;
import java.net.URI;
import java.util.List;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api/contracts")
public class ContractController {

    private final ContractStore store;

    public ContractController(ContractStore store) {
        this.store = store;
    }

    @GetMapping
    public List<Contract> list() {
        return store.list();
    }

    @GetMapping("/{id}")
    public Contract get(@PathVariable long id) {
        return store.find(id).orElseThrow(() -> new ContractNotFoundException(id));
    }

    @PostMapping
    public ResponseEntity<Contract> create(@Valid @RequestBody ContractRequest request) {
        Contract created = store.create(request);
        return ResponseEntity.created(URI.create("/api/contracts/" + created.id())).body(created);
    }
}
