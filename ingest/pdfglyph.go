package ingest

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/ledongthuc/pdf"
	"golang.org/x/text/unicode/norm"
)

// builtinEncoding reads the encoding built into an embedded Type 1 font
// program ("dup 12 /fi put"). TeX fonts rely on it and carry neither an
// /Encoding nor a /ToUnicode, so without it ligatures, dashes and quotes
// come out as control characters.
func builtinEncoding(font pdf.Value) map[byte]string {
	ff := font.Key("FontDescriptor").Key("FontFile")
	if ff.Kind() != pdf.Stream {
		return nil
	}
	n := ff.Key("Length1").Int64()
	if n <= 0 || n > 256<<10 {
		n = 64 << 10
	}
	head, _ := io.ReadAll(io.LimitReader(ff.Reader(), n))
	i := bytes.Index(head, []byte("/Encoding"))
	if i < 0 || bytes.HasPrefix(head[i+len("/Encoding"):], []byte(" StandardEncoding")) {
		return nil
	}
	enc := map[byte]string{}
	for _, m := range dupPut.FindAllSubmatch(head[i:], 256) {
		code, err := strconv.Atoi(string(m[1]))
		if err != nil || code < 0 || code > 255 {
			continue
		}
		// An unknown glyph name (math symbols, dingbats) maps to nothing
		// rather than to the control character its code would give.
		enc[byte(code)] = glyphText(string(m[2]))
	}
	if len(enc) == 0 {
		return nil
	}
	return enc
}

var dupPut = regexp.MustCompile(`dup (\d{1,3}) ?/([A-Za-z0-9._-]+) put`)

var glyphNames = map[string]string{
	"space": " ", "exclam": "!", "quotedbl": "\"", "numbersign": "#", "dollar": "$",
	"percent": "%", "ampersand": "&", "quotesingle": "'", "parenleft": "(", "parenright": ")",
	"asterisk": "*", "plus": "+", "comma": ",", "hyphen": "-", "period": ".", "slash": "/",
	"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
	"seven": "7", "eight": "8", "nine": "9", "colon": ":", "semicolon": ";", "less": "<",
	"equal": "=", "greater": ">", "question": "?", "at": "@", "bracketleft": "[",
	"backslash": "\\", "bracketright": "]", "asciicircum": "^", "underscore": "_", "grave": "`",
	"braceleft": "{", "bar": "|", "braceright": "}", "asciitilde": "~",
	"quoteright": "\u2019", "quoteleft": "\u2018", "quotedblleft": "\u201C", "quotedblright": "\u201D",
	"quotesinglbase": "\u201A", "quotedblbase": "\u201E", "guillemotleft": "«", "guillemotright": "»",
	"endash": "\u2013", "emdash": "\u2014", "fi": "fi", "fl": "fl", "ff": "ff", "ffi": "ffi", "ffl": "ffl",
	"dotlessi": "ı", "dotlessj": "ȷ", "bullet": "•", "periodcentered": "·", "section": "§",
	"paragraph": "¶", "dagger": "†", "daggerdbl": "‡", "copyright": "©", "registered": "®",
	"trademark": "™", "ellipsis": "…", "minus": "−", "multiply": "×", "divide": "÷",
	"degree": "°", "germandbls": "ß", "ae": "æ", "oe": "œ", "oslash": "ø", "AE": "Æ", "OE": "Œ",
	"Oslash": "Ø", "exclamdown": "¡", "questiondown": "¿", "sterling": "£", "yen": "¥",
	"cent": "¢", "Euro": "€", "acute": "´", "dieresis": "¨", "circumflex": "ˆ", "tilde": "˜",
	"macron": "¯", "breve": "˘", "dotaccent": "˙", "ring": "˚", "cedilla": "¸",
	"hungarumlaut": "˝", "ogonek": "˛", "caron": "ˇ", "lslash": "ł", "Lslash": "Ł",
	"Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
	"Sigma": "Σ", "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "alpha": "α",
	"beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η",
	"theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
	"omicron": "ο", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ",
	"phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "visiblespace": "␣", "arrowright": "→",
	"arrowleft": "←", "infinity": "∞", "lessequal": "≤", "greaterequal": "≥", "notequal": "≠",
	"plusminus": "±", "logicalnot": "¬", "periodcentered.alt": "·",
}

var accents = map[string]string{
	"acute": "\u0301", "grave": "\u0300", "circumflex": "\u0302", "dieresis": "\u0308",
	"tilde": "\u0303", "ring": "\u030A", "cedilla": "\u0327", "caron": "\u030C",
}

// glyphText maps an Adobe glyph name to text ("" when unknown).
func glyphText(name string) string {
	if s, ok := glyphNames[name]; ok {
		return s
	}
	if len(name) == 1 && (name[0] >= 'a' && name[0] <= 'z' || name[0] >= 'A' && name[0] <= 'Z') {
		return name
	}
	if strings.HasPrefix(name, "uni") && len(name) == 7 {
		if v, err := strconv.ParseUint(name[3:], 16, 32); err == nil {
			return string(rune(v))
		}
	}
	if strings.HasPrefix(name, "u") && len(name) >= 5 && len(name) <= 7 {
		if v, err := strconv.ParseUint(name[1:], 16, 32); err == nil && v <= 0x10FFFF {
			return string(rune(v))
		}
	}
	if base, _, ok := strings.Cut(name, "."); ok && base != "" {
		return glyphText(base)
	}
	if strings.Contains(name, "_") {
		var sb strings.Builder
		for _, part := range strings.Split(name, "_") {
			sb.WriteString(glyphText(part))
		}
		return sb.String()
	}
	if len(name) > 1 {
		if mark, ok := accents[name[1:]]; ok {
			return norm.NFC.String(name[:1] + mark)
		}
	}
	return ""
}
