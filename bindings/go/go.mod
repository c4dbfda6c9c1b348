module github.com/katamari-db/katamari/bindings/go

go 1.24
