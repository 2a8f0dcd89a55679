//! Go's `sort.Slice`, whose tie order leaks into opm's output bytes. It is
//! not stable: it is pattern-defeating quicksort (Go 1.19+), so elements
//! that compare equal end up in an order that only the same algorithm
//! reproduces. Slices of up to 12 elements are insertion-sorted and so keep
//! their input order; longer ones may not. opm sorts channel entries by
//! version with it (mermaid), and equal versions (build metadata only) are
//! common enough in real catalogs to matter.

/// `sort.Slice(items, less)` with Go's exact sequence of swaps, so equal
/// elements land where Go puts them.
pub(crate) fn go_sort_slice<T>(items: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    let length = items.len();
    let limit = bit_length(length);
    let mut data = LessSwap { items, less: &mut less };
    pdqsort(&mut data, 0, length, limit);
}

struct LessSwap<'a, T, F: FnMut(&T, &T) -> bool> {
    items: &'a mut [T],
    less: &'a mut F,
}

impl<T, F: FnMut(&T, &T) -> bool> LessSwap<'_, T, F> {
    fn less(&mut self, left: usize, right: usize) -> bool {
        (self.less)(&self.items[left], &self.items[right])
    }

    fn swap(&mut self, left: usize, right: usize) {
        self.items.swap(left, right);
    }
}

/// `bits.Len`: the number of bits needed to represent `value`.
fn bit_length(value: usize) -> usize {
    (usize::BITS - value.leading_zeros()) as usize
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum SortedHint {
    Unknown,
    Increasing,
    Decreasing,
}

fn insertion_sort<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, start: usize, end: usize) {
    for idx in start + 1..end {
        let mut cursor = idx;
        while cursor > start && data.less(cursor, cursor - 1) {
            data.swap(cursor, cursor - 1);
            cursor -= 1;
        }
    }
}

fn sift_down<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, low: usize, high: usize, first: usize) {
    let mut root = low;
    loop {
        let mut child = 2 * root + 1;
        if child >= high {
            return;
        }
        if child + 1 < high && data.less(first + child, first + child + 1) {
            child += 1;
        }
        if !data.less(first + root, first + child) {
            return;
        }
        data.swap(first + root, first + child);
        root = child;
    }
}

fn heap_sort<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, start: usize, end: usize) {
    let first = start;
    let high = end - start;
    if high == 0 {
        return;
    }
    for idx in (0..=(high - 1) / 2).rev() {
        sift_down(data, idx, high, first);
    }
    for idx in (0..high).rev() {
        data.swap(first, first + idx);
        sift_down(data, 0, idx, first);
    }
}

fn pdqsort<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, mut start: usize, mut end: usize, mut limit: usize) {
    const MAX_INSERTION: usize = 12;
    let mut was_balanced = true;
    let mut was_partitioned = true;
    loop {
        let length = end - start;
        if length <= MAX_INSERTION {
            insertion_sort(data, start, end);
            return;
        }
        if limit == 0 {
            heap_sort(data, start, end);
            return;
        }
        if !was_balanced {
            break_patterns(data, start, end);
            limit -= 1;
        }
        let (mut pivot, mut hint) = choose_pivot(data, start, end);
        if hint == SortedHint::Decreasing {
            reverse_range(data, start, end);
            pivot = (end - 1) - (pivot - start);
            hint = SortedHint::Increasing;
        }
        if was_balanced && was_partitioned && hint == SortedHint::Increasing && partial_insertion_sort(data, start, end) {
            return;
        }
        if start > 0 && !data.less(start - 1, pivot) {
            start = partition_equal(data, start, end, pivot);
            continue;
        }
        let (mid, already_partitioned) = partition(data, start, end, pivot);
        was_partitioned = already_partitioned;
        let (left_len, right_len) = (mid - start, end - mid);
        let balance_threshold = length / 8;
        if left_len < right_len {
            was_balanced = left_len >= balance_threshold;
            pdqsort(data, start, mid, limit);
            start = mid + 1;
        } else {
            was_balanced = right_len >= balance_threshold;
            pdqsort(data, mid + 1, end, limit);
            end = mid;
        }
    }
}

fn partition<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, start: usize, end: usize, pivot: usize) -> (usize, bool) {
    data.swap(start, pivot);
    // `low` and `high` are inclusive bounds of the unpartitioned part; `high`
    // may step below `start + 1`, so it is kept signed.
    let mut low = start + 1;
    let mut high = end as isize - 1;
    while low as isize <= high && data.less(low, start) {
        low += 1;
    }
    while low as isize <= high && !data.less(high as usize, start) {
        high -= 1;
    }
    if low as isize > high {
        data.swap(high as usize, start);
        return (high as usize, true);
    }
    data.swap(low, high as usize);
    low += 1;
    high -= 1;
    loop {
        while low as isize <= high && data.less(low, start) {
            low += 1;
        }
        while low as isize <= high && !data.less(high as usize, start) {
            high -= 1;
        }
        if low as isize > high {
            break;
        }
        data.swap(low, high as usize);
        low += 1;
        high -= 1;
    }
    data.swap(high as usize, start);
    (high as usize, false)
}

fn partition_equal<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, start: usize, end: usize, pivot: usize) -> usize {
    data.swap(start, pivot);
    let mut low = start + 1;
    let mut high = end as isize - 1;
    loop {
        while low as isize <= high && !data.less(start, low) {
            low += 1;
        }
        while low as isize <= high && data.less(start, high as usize) {
            high -= 1;
        }
        if low as isize > high {
            break;
        }
        data.swap(low, high as usize);
        low += 1;
        high -= 1;
    }
    low
}

fn partial_insertion_sort<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, start: usize, end: usize) -> bool {
    const MAX_STEPS: usize = 5;
    const SHORTEST_SHIFTING: usize = 50;
    let mut idx = start + 1;
    for _ in 0..MAX_STEPS {
        while idx < end && !data.less(idx, idx - 1) {
            idx += 1;
        }
        if idx == end {
            return true;
        }
        if end - start < SHORTEST_SHIFTING {
            return false;
        }
        data.swap(idx, idx - 1);
        if idx - start >= 2 {
            let mut cursor = idx - 1;
            while cursor >= 1 {
                if !data.less(cursor, cursor - 1) {
                    break;
                }
                data.swap(cursor, cursor - 1);
                cursor -= 1;
            }
        }
        if end - idx >= 2 {
            for cursor in idx + 1..end {
                if !data.less(cursor, cursor - 1) {
                    break;
                }
                data.swap(cursor, cursor - 1);
            }
        }
    }
    false
}

fn break_patterns<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, start: usize, end: usize) {
    let length = end - start;
    if length < 8 {
        return;
    }
    let mut random = length as u64;
    let modulus = 1usize << bit_length(length);
    let middle = start + (length / 4) * 2;
    for idx in middle - 1..=middle + 1 {
        // Go's xorshift with the 64-bit triple (13, 7, 17).
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let mut other = (random as usize) & (modulus - 1);
        if other >= length {
            other -= length;
        }
        data.swap(idx, start + other);
    }
}

fn choose_pivot<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, start: usize, end: usize) -> (usize, SortedHint) {
    const SHORTEST_NINTHER: usize = 50;
    const MAX_SWAPS: usize = 4 * 3;
    let length = end - start;
    let mut swaps = 0;
    let mut first = start + length / 4;
    let mut second = start + length / 4 * 2;
    let mut third = start + length / 4 * 3;
    if length >= 8 {
        if length >= SHORTEST_NINTHER {
            first = median_adjacent(data, first, &mut swaps);
            second = median_adjacent(data, second, &mut swaps);
            third = median_adjacent(data, third, &mut swaps);
        }
        second = median(data, first, second, third, &mut swaps);
    }
    match swaps {
        0 => (second, SortedHint::Increasing),
        MAX_SWAPS => (second, SortedHint::Decreasing),
        _ => (second, SortedHint::Unknown),
    }
}

fn order2<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, left: usize, right: usize, swaps: &mut usize) -> (usize, usize) {
    if data.less(right, left) {
        *swaps += 1;
        return (right, left);
    }
    (left, right)
}

fn median<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, first: usize, second: usize, third: usize, swaps: &mut usize) -> usize {
    let (first, second) = order2(data, first, second, swaps);
    let (second, third) = order2(data, second, third, swaps);
    let _ = third;
    let (_first, second) = order2(data, first, second, swaps);
    second
}

fn median_adjacent<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, center: usize, swaps: &mut usize) -> usize {
    median(data, center - 1, center, center + 1, swaps)
}

fn reverse_range<T, F: FnMut(&T, &T) -> bool>(data: &mut LessSwap<T, F>, start: usize, end: usize) {
    let (mut low, mut high) = (start, end - 1);
    while low < high {
        data.swap(low, high);
        low += 1;
        high -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_slices_keep_equal_elements_in_order() {
        let mut items: Vec<(u32, char)> = vec![(2, 'a'), (1, 'b'), (2, 'c'), (1, 'd')];
        go_sort_slice(&mut items, |left, right| left.0 < right.0);
        assert_eq!(items, vec![(1, 'b'), (1, 'd'), (2, 'a'), (2, 'c')]);
    }

    #[test]
    fn long_slices_sort_by_key() {
        let mut items: Vec<u32> = (0..500).map(|idx| (idx * 7919) % 503).collect();
        go_sort_slice(&mut items, |left, right| left < right);
        let mut expected = items.clone();
        expected.sort_unstable();
        assert_eq!(items, expected);
        let mut reversed: Vec<u32> = (0..100).rev().collect();
        go_sort_slice(&mut reversed, |left, right| left < right);
        assert_eq!(reversed, (0..100).collect::<Vec<_>>());
    }
}
