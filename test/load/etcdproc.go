package main

// The embedded etcd in a process of its own (-etcd-process): gatehouse
// then talks to it as to an external cluster, as a production server
// does, and the server process's heap, threads and CPU hold gatehouse
// alone. This program re-executed with the arguments "etcd DIR" starts
// the same embedded etcd gatehouse would (storage.StartEmbedded, data in
// DIR), prints its client URL and serves until its stdin closes.

import (
	"os"
	"time"

	"gatehouse/storage"
)

const etcdArg = "etcd"

func isEtcdMode() bool { return len(os.Args) > 2 && os.Args[1] == etcdArg }

// etcdMain runs etcd in os.Args[2] until stdin closes.
func etcdMain() int {
	e, err := storage.StartEmbedded(os.Args[2], 0, 0)
	if err != nil {
		return childFailed(etcdArg, err)
	}
	return childServe(e.Endpoint, e.Close)
}

// etcdProc is the parent's handle on the etcd process.
type etcdProc struct {
	p        *childProc
	endpoint string
}

func startEtcdProc(dir string) (*etcdProc, error) {
	p, err := startChild(90*time.Second, etcdArg, dir)
	if err != nil {
		return nil, err
	}
	return &etcdProc{p: p, endpoint: p.line}, nil
}

func (p *etcdProc) close() { p.p.close(15 * time.Second) }
