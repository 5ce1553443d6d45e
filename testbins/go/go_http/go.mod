module pykern/testbins/go/go_http

go 1.19
