module pykern/testbins/go/go_cpu

go 1.19
