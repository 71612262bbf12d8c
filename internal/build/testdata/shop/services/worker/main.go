package main

import (
	"flag"
	"fmt"

	"example.com/shop/internal/greet"
)

func main() {
	name := flag.String("name", "world", "who to greet")
	flag.Parse()
	fmt.Println(greet.Hello(*name, "worker"))
}
