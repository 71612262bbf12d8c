package main

import (
	_ "embed"
	"flag"
	"fmt"
	"strings"

	"example.com/shop/internal/greet"
)

//go:embed static/banner.txt
var banner string

func main() {
	name := flag.String("name", "world", "who to greet")
	flag.Parse()
	fmt.Println(greet.Hello(*name, "api"))
	fmt.Println(strings.TrimSpace(banner))
}
