package ingest

// Limits bound the work and memory spent on one file.
//
// Memory bound: files larger than MaxFileBytes are refused from their size
// alone, before a byte is read ("is larger than the 100 MB limit"); we chose
// refusal over streaming because a 100 MB+ text file is nearly always a log
// or a dump, not a document anybody wants cited. Below the limit a text-like
// file (text, Markdown, HTML, CSV) is read whole: once if it is UTF-8, twice
// if it must be re-encoded. Extracted text stops at MaxTextBytes (the rest is
// dropped with a warning), and Text() plus the chunker's rune buffer for the
// longest block add about 5 x MaxTextBytes. Peak for one Extract+Split is
// therefore about MaxFileBytes + 5 x MaxTextBytes, ~260 MB with the defaults
// (measured: a 90 MB single-line text file peaks at 265 MB RSS, 2.2 s). A
// PDF is read through the file handle, never loaded whole, and its text
// stops at MaxTextBytes too. A DOCX is refused before inflating if its
// entries declare more than 2 x MaxFileBytes or a ratio above MaxZipRatio,
// and every entry is inflated through a counter that stops at its declared
// size and at 2 x MaxFileBytes for the archive, whatever the headers claim.
type Limits struct {
	MaxFileBytes  int64 // files larger than this are refused
	MaxTextBytes  int64 // extracted text beyond this is dropped with a warning
	MaxZipEntries int   // DOCX archives with more entries are refused
	MaxZipRatio   int64 // a zip entry inflating more than this many times its compressed size is refused
}

// DefaultLimits suits documents on a desktop: 100 MB files, 32 MB of text.
func DefaultLimits() Limits {
	return Limits{
		MaxFileBytes:  100 << 20,
		MaxTextBytes:  32 << 20,
		MaxZipEntries: 10000,
		MaxZipRatio:   200,
	}
}

// withDefaults fills zero fields so a zero Limits is safe.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = d.MaxTextBytes
	}
	if l.MaxZipEntries <= 0 {
		l.MaxZipEntries = d.MaxZipEntries
	}
	if l.MaxZipRatio <= 0 {
		l.MaxZipRatio = d.MaxZipRatio
	}
	return l
}

// maxInflated is the most a zip archive may expand to in total.
func (l Limits) maxInflated() int64 { return 2 * l.MaxFileBytes }
