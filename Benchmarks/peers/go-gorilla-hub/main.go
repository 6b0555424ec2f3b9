// A Go hub on gorilla/websocket (the transport lineage of Centrifugo), speaking the subset of
// tickerhub.v1 the benchmark drives: welcome, list, subscribe with ack and snapshots, updates
// with per-symbol seq and ts in nanoseconds.
//
// Written the way gorilla's own chat example and most gorilla users fan out: one reader and one
// writer goroutine per connection, and a buffered send channel between the hub and the writer. The
// writer sends each queued message with WriteMessage: one frame, one write syscall (the chat
// example's trick of packing queued messages into one frame does not fit a JSON-per-frame protocol).
// A full send channel drops the message for that connection (counted),
// like TickerHub's backlog limit skips a slow socket. The market is the tick script every server of
// a comparison replays (`feedsim ticks`, see Benchmarks/e2e/run.py): the same symbols, prices and
// messages as tickerhub's own simulator, RATE ticks/s generated every millisecond, each stamped
// with the time it was due, so a fan-out that falls behind shows as latency.
//
// Built offline from Debian's packages (golang-go, golang-github-gorilla-websocket-dev):
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o hub .
//	./hub --port 18600 --rate 100 --ticks ticks.txt
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// How many messages may wait for one connection's writer before new ones are dropped.
const sendQueue = 1024

type client struct {
	conn *websocket.Conn
	send chan []byte
}

type hub struct {
	mu          sync.RWMutex
	names       []string
	index       map[string]int
	subscribers []map[*client]struct{}
	latestQuote []string // the fields of each symbol's latest quote, for snapshots
	lastTs      []int64
	seq         []uint64
	ticks       []tick
	deliveries  atomic.Uint64
	drops       atomic.Uint64
}

// One line of the tick script: "<type> <symbol index> <the update's fields after ts>".
type tick struct {
	kind   string
	index  int
	fields string
}

func parseTick(line string) tick {
	parts := strings.SplitN(line, " ", 3)
	index, err := strconv.Atoi(parts[1])
	if err != nil || len(parts) != 3 {
		log.Fatalf("bad tick script line %q", line)
	}
	return tick{parts[0], index, parts[2]}
}

// newHub loads the script: "symbols A B ...", one opening quote per symbol, then the ticks.
func newHub(path string) *hub {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	h := &hub{index: map[string]int{}}
	h.names = strings.Fields(lines[0])[1:]
	for i, name := range h.names {
		h.index[name] = i
		h.subscribers = append(h.subscribers, map[*client]struct{}{})
		h.latestQuote = append(h.latestQuote, parseTick(lines[1+i]).fields)
		h.lastTs = append(h.lastTs, 0)
		h.seq = append(h.seq, 1)
	}
	for _, line := range lines[1+len(h.names):] {
		h.ticks = append(h.ticks, parseTick(line))
	}
	return h
}

// message is built by hand, as the other peers do, with "type" first as every v1 client expects.
func (h *hub) message(kind string, i int, ts int64, fields string) []byte {
	return []byte(fmt.Sprintf(`{"type":"%s","symbol":"%s","seq":%d,"ts":%d,%s}`, kind, h.names[i], h.seq[i], ts, fields))
}

func (c *client) enqueue(h *hub, message []byte) {
	select {
	case c.send <- message:
		h.deliveries.Add(1)
	default:
		h.drops.Add(1)
	}
}

var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096, CheckOrigin: func(*http.Request) bool { return true }}

func (h *hub) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{conn: conn, send: make(chan []byte, sendQueue)}
	go c.writePump()
	c.send <- []byte(`{"type":"welcome","protocol":"tickerhub.v1","heartbeatMs":0}`)
	c.readPump(h)
}

func (c *client) writePump() {
	defer c.conn.Close()
	for message := range c.send {
		if err := c.conn.WriteMessage(websocket.TextMessage, message); err != nil {
			return
		}
	}
}

func (c *client) readPump(h *hub) {
	var mine []int
	defer func() {
		h.mu.Lock()
		for _, i := range mine {
			delete(h.subscribers[i], c)
		}
		h.mu.Unlock()
		close(c.send)
	}()
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		var request struct {
			Op      string   `json:"op"`
			ID      int64    `json:"id"`
			Symbols []string `json:"symbols"`
		}
		if json.Unmarshal(data, &request) != nil {
			continue
		}
		switch request.Op {
		case "list":
			reply, _ := json.Marshal(struct {
				Type    string   `json:"type"`
				ID      int64    `json:"id"`
				Symbols []string `json:"symbols"`
			}{"symbols", request.ID, h.names})
			c.send <- reply
		case "subscribe":
			c.send <- []byte(fmt.Sprintf(`{"type":"ack","id":%d,"op":"subscribe","symbols":["%s"]}`, request.ID, strings.Join(request.Symbols, `","`)))
			h.mu.Lock()
			for _, name := range request.Symbols {
				if i, ok := h.index[name]; ok {
					h.subscribers[i][c] = struct{}{}
					mine = append(mine, i)
					ts := h.lastTs[i]
					if ts == 0 {
						ts = time.Now().UnixNano()
					}
					c.enqueue(h, h.message("snapshot", i, ts, h.latestQuote[i]))
				}
			}
			h.mu.Unlock()
		}
	}
}

// run generates the ticks due every millisecond and fans each out to its subscribers' queues.
func (h *hub) run(rate float64) {
	start := time.Now()
	var generated int64
	ticker := time.NewTicker(time.Millisecond)
	for now := range ticker.C {
		for float64(generated+1)/rate <= now.Sub(start).Seconds() {
			generated++
			due := start.Add(time.Duration(float64(generated) / rate * float64(time.Second)))
			t := h.ticks[(generated-1)%int64(len(h.ticks))]
			i := t.index
			h.mu.Lock()
			h.seq[i]++
			h.lastTs[i] = due.UnixNano()
			if t.kind == "quote" {
				h.latestQuote[i] = t.fields
			}
			message := h.message(t.kind, i, h.lastTs[i], t.fields)
			for c := range h.subscribers[i] {
				c.enqueue(h, message)
			}
			h.mu.Unlock()
		}
	}
}

func main() {
	port := flag.Int("port", 18600, "listen port")
	rate := flag.Float64("rate", 100, "ticks per second over all symbols")
	ticks := flag.String("ticks", "", "the tick script (feedsim ticks --out FILE)")
	flag.Parse()
	if *ticks == "" {
		log.Fatal("--ticks FILE is required")
	}
	h := newHub(*ticks)
	go h.run(*rate)
	http.HandleFunc("/ws", h.serveWS)
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"deliveries":%d,"drops":%d}`, h.deliveries.Load(), h.drops.Load())
	})
	log.Printf("go-gorilla hub on %d, %d symbols, %d scripted ticks, %g ticks/s", *port, len(h.names), len(h.ticks), *rate)
	log.Fatal(http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil))
}
