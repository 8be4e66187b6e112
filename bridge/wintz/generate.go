package wintz

//go:generate go run gen_zones.go -o zones.go
