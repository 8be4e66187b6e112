package bridge

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"

	"crmbridge/crmstore"
	"crmbridge/internal/recovered"
)

// cardJob is one chunk of records a worker of writeCards encodes: the
// bytes of its records, one after the other, and what happened to each.
type cardJob struct {
	rc   *readChunk
	buf  *bytes.Buffer
	recs []cardRec
	done chan struct{} // closed when the worker is done with it
}

// cardRec is what encoding one record of a cardJob gave.
type cardRec struct {
	f     fetched
	warns []error // cleanView's, for the Reporter
	err   error   // the encoder refused the record (nothing of it written)
}

// writeCards writes the records prefetch reads to w, through tg.cards,
// in the order they are read: one chunk of records per job, each job
// built (ScanChunk.Records), cleaned (cleanView) and encoded into bytes
// of its own by one of runtime.GOMAXPROCS workers (x.workers when set),
// then written, and its records reported, by the calling goroutine, in
// order. An export of 100,000 contacts encodes on both cores of a 2-core
// machine instead of one, beside the reading. At most workers+3 jobs are
// held (the reader's, the workers', those waiting to be written).
//
// It returns the number of records written; storeErr, for the store
// failing or ctx done (which end the export); err, for w failing (the
// target fails). Records that could not be read or that the encoder
// refused are reported by id and counted in res.Omitted.
func (x *exporter) writeCards(w io.Writer, tg *target, total int, res *ExportResult) (n int, storeErr, err error) {
	chunks, stopReading := x.prefetch(tg.ents)
	defer stopReading()
	workers := x.workers
	if workers <= 0 {
		workers = max(runtime.GOMAXPROCS(0), 1)
	}
	// Finished jobs, for their buffer and their views' field maps
	// (ScanChunk.Reuse): allocating them anew made the GC run three times
	// as often.
	spent := make(chan *cardJob, workers+2)
	jobs := make(chan *cardJob)
	order := make(chan *cardJob, workers+1)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(quit)
		stopReading()
		wg.Wait()
	}()
	wg.Add(1 + workers)
	go func() { // hands the chunks to the workers, and in order to us
		defer wg.Done()
		defer close(order)
		defer close(jobs)
		for rc := range chunks {
			j := &cardJob{rc: rc, done: make(chan struct{})}
			select {
			case order <- j:
			case <-quit:
				return
			}
			select {
			case jobs <- j:
			case <-quit:
				return
			}
		}
	}()
	for range workers {
		go func() {
			defer wg.Done()
			for j := range jobs {
				select {
				case <-quit:
					close(j.done)
					continue
				default:
				}
				x.encodeCards(tg, j, spent)
			}
		}()
	}
	done := 0
	name := tg.String() // once: a string made per record was 4 % of what an export allocated
	for j := range order {
		select {
		case <-j.done:
		case <-x.ctx.Done():
			return n, x.ctx.Err(), nil
		}
		if j.rc.fatal != nil {
			return n, j.rc.fatal, nil
		}
		for _, r := range j.recs {
			if x.ctx.Err() != nil {
				return n, x.ctx.Err(), nil
			}
			if r.f.err != nil {
				if err := x.readFailed(tg, r.f, res); err != nil {
					return n, err, nil
				}
			}
			for _, e := range r.warns {
				x.rep.Warning(e)
			}
			done++
			x.rep.Progress(name, done, total)
			if r.f.err != nil {
				continue
			}
			if r.err != nil {
				res.Omitted++
				x.rep.Problem(&RecordError{Target: name, Entity: r.f.v.Entity, ID: r.f.v.ID, Err: r.err})
				continue
			}
			n++
		}
		if _, err := w.Write(j.buf.Bytes()); err != nil {
			return n, nil, err
		}
		j.buf.Reset()
		j.rc = nil
		select {
		case spent <- j:
		default:
		}
	}
	return n, nil, nil
}

// encodeCards builds, cleans and encodes the records of j, on a worker of
// writeCards. A panic is the encoding's failure, the records' own.
func (x *exporter) encodeCards(tg *target, j *cardJob, spent chan *cardJob) {
	defer close(j.done)
	var old *cardJob
	select {
	case old = <-spent:
		j.buf = old.buf
	default:
		j.buf = new(bytes.Buffer)
	}
	if j.rc.fatal != nil {
		return
	}
	if old != nil {
		views := make([]*crmstore.View, len(old.recs))
		for i, r := range old.recs {
			views[i] = r.f.v
		}
		j.rc.scan.Reuse(views)
	}
	recs := j.rc.records()
	j.recs = make([]cardRec, len(recs))
	enc := tg.cards(j.buf)
	for i, f := range recs {
		r := &j.recs[i]
		r.f = f
		if f.err != nil {
			continue
		}
		cleanViewFields(f.v, !f.valid, func(v *crmstore.View, err error) {
			r.warns = append(r.warns, &RecordError{Target: tg.String(), Entity: v.Entity, ID: v.ID, Err: err})
		})
		r.err = encodeCard(enc, f.v)
	}
}

// encodeCard encodes v through enc; a panic becomes the record's error.
func encodeCard(enc func(*crmstore.View) error, v *crmstore.View) (err error) {
	defer func() {
		if p := recover(); p != nil {
			recovered.Note(p)
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return enc(v)
}
