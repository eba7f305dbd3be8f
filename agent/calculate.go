package agent

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Calculate evaluates an arithmetic expression: numbers (with decimals),
// + - * / ^ (power, right-associative), unary signs and parentheses. It is
// a parser, not an interpreter of anything else: names, functions, commas
// and every other character are refused, so a model cannot smuggle code
// through the calculate tool.
func Calculate(expr string) (float64, error) {
	if len(expr) > 500 {
		return 0, errors.New("the expression is longer than 500 characters")
	}
	p := &calc{s: expr}
	v, err := p.expr()
	if err != nil {
		return 0, err
	}
	p.space()
	if p.i < len(p.s) {
		return 0, fmt.Errorf("unexpected %q at position %d: only numbers, + - * / ^ and parentheses are allowed", p.s[p.i], p.i+1)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("the result is not a finite number")
	}
	return v, nil
}

// FormatNumber writes a result without float noise in the common cases.
func FormatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 12, 64)
}

type calc struct {
	s     string
	i     int
	depth int
}

const maxCalcDepth = 64

func (p *calc) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *calc) peek() byte {
	p.space()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *calc) expr() (float64, error) {
	v, err := p.term()
	if err != nil {
		return 0, err
	}
	for {
		switch p.peek() {
		case '+':
			p.i++
			w, err := p.term()
			if err != nil {
				return 0, err
			}
			v += w
		case '-':
			p.i++
			w, err := p.term()
			if err != nil {
				return 0, err
			}
			v -= w
		default:
			return v, nil
		}
	}
}

func (p *calc) term() (float64, error) {
	v, err := p.unary()
	if err != nil {
		return 0, err
	}
	for {
		switch p.peek() {
		case '*':
			p.i++
			w, err := p.unary()
			if err != nil {
				return 0, err
			}
			v *= w
		case '/':
			p.i++
			w, err := p.unary()
			if err != nil {
				return 0, err
			}
			if w == 0 {
				return 0, errors.New("division by zero")
			}
			v /= w
		default:
			return v, nil
		}
	}
}

func (p *calc) unary() (float64, error) {
	switch p.peek() {
	case '-', '+':
		neg := p.s[p.i] == '-'
		p.i++
		if p.depth++; p.depth > maxCalcDepth {
			return 0, errors.New("the expression is nested too deeply")
		}
		v, err := p.unary()
		p.depth--
		if neg {
			v = -v
		}
		return v, err
	}
	return p.power()
}

func (p *calc) power() (float64, error) {
	base, err := p.primary()
	if err != nil {
		return 0, err
	}
	if p.peek() != '^' {
		return base, nil
	}
	p.i++
	if p.depth++; p.depth > maxCalcDepth {
		return 0, errors.New("the expression is nested too deeply")
	}
	exp, err := p.unary() // right-associative: 2^3^2 = 2^(3^2); 2^-1 works
	p.depth--
	if err != nil {
		return 0, err
	}
	return math.Pow(base, exp), nil
}

func (p *calc) primary() (float64, error) {
	c := p.peek()
	switch {
	case c == '(':
		p.i++
		if p.depth++; p.depth > maxCalcDepth {
			return 0, errors.New("the expression is nested too deeply")
		}
		v, err := p.expr()
		p.depth--
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, errors.New("a parenthesis is not closed")
		}
		p.i++
		return v, nil
	case c >= '0' && c <= '9' || c == '.':
		start := p.i
		dot := false
		for p.i < len(p.s) {
			ch := p.s[p.i]
			if ch == '.' && !dot {
				dot = true
			} else if ch < '0' || ch > '9' {
				break
			}
			p.i++
		}
		num := p.s[start:p.i]
		if num == "." {
			return 0, fmt.Errorf("%q is not a number", num)
		}
		return strconv.ParseFloat(strings.TrimSuffix(num, "."), 64)
	case c == 0:
		return 0, errors.New("the expression ends too early")
	}
	return 0, fmt.Errorf("unexpected %q at position %d: only numbers, + - * / ^ and parentheses are allowed", c, p.i+1)
}
