// etcd for the offline kind node image: the same entry point as etcd's own
// server binary (go.etcd.io/etcd/server/v3's main package), built from the Go
// module proxy. The etcd server module cannot be `go install`ed directly: its
// go.mod carries replace directives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
