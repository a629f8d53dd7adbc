// Command fanout-client is the subscriber side of `npm run bench:fanout` when
// FANOUT_CLIENT=go: N graphql-transport-ws subscribers in one process, each on its own
// socket. A Go client costs a fraction of a Node one per message, which leaves the
// machine's two cores to the server being measured.
//
// With load/fanout.bench.ts it speaks plain lines: it prints "ready" once every subscriber
// has its caught-up marker, then reads the ids of the appended aggregates from stdin until
// EOF, waits until every subscriber has every one (or 5 s pass with nothing new), and
// prints one JSON line of results.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

var (
	url   = flag.String("url", "", "the server's ws:// GraphQL URL")
	key   = flag.String("key", "", "an API key")
	n     = flag.Int("n", 1000, "subscribers")
	query = flag.String("query", "", "the subscription document")
)

const buckets = 60_001 // 1 ms each; the last holds everything slower

var (
	histogram  [buckets]atomic.Uint64
	deliveries atomic.Uint64
	mu         sync.Mutex
	seen       = map[string][]uint8{} // aggregate id -> deliveries per subscriber
)

func field(message []byte, name string) []byte {
	prefix := []byte(`"` + name + `":"`)
	start := bytes.Index(message, prefix)
	if start < 0 {
		return nil
	}
	rest := message[start+len(prefix):]
	return rest[:bytes.IndexByte(rest, '"')]
}

func record(subscriber int, message []byte, receivedAt time.Time) {
	id := string(field(message, "aggregateId"))
	createdAt, err := time.Parse(time.RFC3339Nano, string(field(message, "createdAt")))
	if err == nil {
		ms := receivedAt.Sub(createdAt).Milliseconds()
		histogram[min(max(ms, 0), buckets-1)].Add(1)
	}
	deliveries.Add(1)
	mu.Lock()
	counts, ok := seen[id]
	if !ok {
		counts = make([]uint8, *n)
		seen[id] = counts
	}
	if counts[subscriber] < 255 {
		counts[subscriber]++
	}
	mu.Unlock()
}

func subscribe(subscriber int, ready *sync.WaitGroup) (*websocket.Conn, error) {
	dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 30 * time.Second}
	conn, _, err := dialer.Dial(*url, http.Header{})
	if err != nil {
		return nil, err
	}
	send := func(message any) error { return conn.WriteJSON(message) }
	if err := send(map[string]any{"type": "connection_init", "payload": map[string]string{"authorization": "Bearer " + *key}}); err != nil {
		return nil, err
	}
	go func() {
		marked := false
		for {
			_, message, err := conn.ReadMessage()
			if err != nil {
				return
			}
			receivedAt := time.Now()
			if bytes.Contains(message, []byte(`"aggregateId"`)) {
				record(subscriber, message, receivedAt)
				continue
			}
			var parsed struct {
				Type    string          `json:"type"`
				Payload json.RawMessage `json:"payload"`
			}
			_ = json.Unmarshal(message, &parsed)
			switch {
			case parsed.Type == "connection_ack":
				_ = send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]string{"query": *query}})
			case parsed.Type == "next" && !marked:
				marked = true
				ready.Done()
			case parsed.Type == "error" || bytes.Contains(parsed.Payload, []byte(`"errors"`)):
				fmt.Fprintf(os.Stderr, "subscriber %d: %s\n", subscriber, message)
				os.Exit(1)
			}
		}
	}()
	return conn, nil
}

func percentile(p float64, total uint64) int {
	rank := uint64(float64(total)*p/100 + 0.999999)
	var sum uint64
	for ms := range buckets {
		sum += histogram[ms].Load()
		if sum >= rank {
			return ms
		}
	}
	return -1
}

func main() {
	flag.Parse()
	var ready sync.WaitGroup
	ready.Add(*n)
	conns := make([]*websocket.Conn, 0, *n)
	for i := range *n {
		conn, err := subscribe(i, &ready)
		if err != nil {
			fmt.Fprintf(os.Stderr, "subscriber %d: %v\n", i, err)
			os.Exit(1)
		}
		conns = append(conns, conn)
	}
	ready.Wait()
	fmt.Println("ready")

	var expected []string
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		if line := lines.Text(); line != "" {
			expected = append(expected, line)
		}
	}
	want := uint64(len(expected) * *n)
	started := time.Now()
	for last, idleSince := deliveries.Load(), time.Now(); deliveries.Load() < want && time.Since(idleSince) < 5*time.Second; {
		time.Sleep(50 * time.Millisecond)
		if now := deliveries.Load(); now != last {
			last, idleSince = now, time.Now()
		}
	}
	missed, repeated := 0, 0
	mu.Lock()
	for _, id := range expected {
		counts := seen[id]
		for i := range *n {
			c := 0
			if counts != nil {
				c = int(counts[i])
			}
			if c == 0 {
				missed++
			} else {
				repeated += c - 1
			}
		}
	}
	mu.Unlock()
	total := deliveries.Load()
	result, _ := json.Marshal(map[string]any{
		"deliveries":   total,
		"drainSeconds": time.Since(started).Seconds(),
		"p50Ms":        percentile(50, total),
		"p95Ms":        percentile(95, total),
		"p99Ms":        percentile(99, total),
		"maxMs":        percentile(100, total),
		"missed":       missed,
		"repeated":     repeated,
	})
	fmt.Println(string(result))
	for _, conn := range conns {
		_ = conn.Close()
	}
}
