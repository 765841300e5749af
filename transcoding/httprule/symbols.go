package httprule

import "hash/maphash"

// symbols interns the distinct literal texts of a route table (the
// literal segments, or the verbs) as small integers, so that matching
// reads each request segment's text once, in one hash probe, and from
// then on compares integers: at trie nodes, at the leaves and in the
// segments that follow a "**". A node with hundreds of literal children
// (the "/v1/projects/*/locations/*" of Google's APIs) then costs an
// integer probe rather than a string hash and comparison per node visited.
//
// Lookups use an open-addressed table of 32-byte slots, at most half full,
// each holding its text's first 16 bytes (most literals are shorter) and
// the place of the rest in one contiguous string: a lookup usually reads
// one slot, one cache line.
type symbols struct {
	seed  maphash.Seed
	slots []symbol // power-of-two length, at most half full; nil when empty
	mask  uint64   // len(slots)-1
	text  string   // every symbol's text, back to back
}

// symbol is one slot of the table; id 0 marks an empty slot.
type symbol struct {
	tag    uint32 // the hash's high half, tested before the text
	id     uint32
	off, n uint32   // the text's length n, and its bytes past head at symbols.text[off:]
	head   [16]byte // the text's first bytes
}

// symbolBuilder assigns ids, from 1 up, in the order texts are first
// added.
type symbolBuilder struct {
	ids   map[string]uint32
	texts []string
}

// id returns s's id, assigning the next one when s is new.
func (b *symbolBuilder) id(s string) uint32 {
	if id, ok := b.ids[s]; ok {
		return id
	}
	if b.ids == nil {
		b.ids = make(map[string]uint32)
	}
	b.texts = append(b.texts, s)
	id := uint32(len(b.texts))
	b.ids[s] = id
	return id
}

// build returns the lookup table of the texts added so far.
func (b *symbolBuilder) build() symbols {
	if len(b.texts) == 0 {
		return symbols{}
	}
	size := 16
	for size < 2*len(b.texts) {
		size *= 2
	}
	t := symbols{seed: maphash.MakeSeed(), slots: make([]symbol, size), mask: uint64(size - 1)}
	n := 0
	for _, s := range b.texts {
		n += max(len(s)-len(symbol{}.head), 0)
	}
	text := make([]byte, 0, n)
	for k, s := range b.texts {
		h := maphash.String(t.seed, s)
		i := h & t.mask
		for t.slots[i].id != 0 {
			i = (i + 1) & t.mask
		}
		sl := symbol{tag: uint32(h >> 32), id: uint32(k + 1), off: uint32(len(text)), n: uint32(len(s))}
		rest := s[copy(sl.head[:], s):]
		text = append(text, rest...)
		t.slots[i] = sl
	}
	t.text = string(text)
	return t
}

// find returns the id of s, or 0 when s is not a symbol.
func (t *symbols) find(s string) uint32 {
	if t.slots == nil {
		return 0
	}
	h := maphash.String(t.seed, s)
	tag := uint32(h >> 32)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		if sl.id == 0 {
			return 0
		}
		if sl.tag != tag || int(sl.n) != len(s) {
			continue
		}
		if len(s) <= len(sl.head) {
			if string(sl.head[:len(s)]) == s {
				return sl.id
			}
		} else if string(sl.head[:]) == s[:len(sl.head)] && t.text[sl.off:sl.off+sl.n-uint32(len(sl.head))] == s[len(sl.head):] {
			return sl.id
		}
	}
}
