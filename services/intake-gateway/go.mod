module example.com/crm/services/intake-gateway

go 1.26.8
