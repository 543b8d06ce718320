//! What a DynamoDB request costs, worked out from its request and response the way AWS bills
//! on-demand tables: a write unit per 1 KB of each item written, a read unit per 4 KB read
//! (half for an eventually consistent read), both doubled inside a transaction. Item sizes
//! follow the developer guide's rules ("Item sizes and formats": attribute names plus values;
//! a number about one byte per two digits plus one; a list or map 3 bytes plus 1 per element).
//!
//! The request shows what a put writes; for an update or a delete it shows only the key and
//! the new values, so those count as the larger of that and what the response returns (all of
//! the item when the call asks for it). AWS charges the larger of the item before and after,
//! so an update of a large item counts low here; the adapter's updates are counters and
//! markers of well under 1 KB, one unit either way. A query counts the items it returns (a
//! filter would have been charged for the items it read; the adapter's queries use none).

use serde_json::{Map, Value};

/// Capacity units consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub read: f64,
    pub write: f64,
}

impl std::ops::AddAssign for Units {
    fn add_assign(&mut self, other: Units) {
        self.read += other.read;
        self.write += other.write;
    }
}

/// The units one DynamoDB `operation` consumed, given its JSON request and response.
pub fn units(operation: &str, request: &Value, response: &Value) -> Units {
    let consistent = |v: &Value| v["ConsistentRead"].as_bool().unwrap_or(false);
    let items = |v: &Value| v.as_array().cloned().unwrap_or_default();
    match operation {
        "PutItem" => write(item_size(&request["Item"])),
        "UpdateItem" | "DeleteItem" => {
            write(changed_size(request).max(item_size(&response["Attributes"])))
        }
        "BatchWriteItem" => {
            let mut total = Units::default();
            for requests in object(&request["RequestItems"]).values() {
                for r in items(requests) {
                    total += write(item_size(&r["PutRequest"]["Item"]))
                        .max_with(write(item_size(&r["DeleteRequest"]["Key"])));
                }
            }
            total
        }
        "TransactWriteItems" => {
            let mut total = Units::default();
            for t in items(&request["TransactItems"]) {
                let size = match (&t["Put"], &t["Update"], &t["Delete"], &t["ConditionCheck"]) {
                    (put, ..) if put.is_object() => item_size(&put["Item"]),
                    (_, update, ..) if update.is_object() => changed_size(update),
                    (_, _, delete, _) if delete.is_object() => item_size(&delete["Key"]),
                    (.., check) => item_size(&check["Key"]),
                };
                total.write += 2.0 * write(size).write;
            }
            total
        }
        "GetItem" => read(item_size(&response["Item"]), consistent(request)),
        "Query" | "Scan" => read(
            items(&response["Items"]).iter().map(item_size).sum(),
            consistent(request),
        ),
        "BatchGetItem" => {
            let mut total = Units::default();
            for (table, found) in object(&response["Responses"]) {
                let strong = consistent(&request["RequestItems"][table]);
                for item in items(&found) {
                    total += read(item_size(&item), strong);
                }
            }
            total
        }
        "TransactGetItems" => {
            let mut total = Units::default();
            for r in items(&response["Responses"]) {
                total.read += 2.0 * read(item_size(&r["Item"]), true).read;
            }
            total
        }
        _ => Units::default(),
    }
}

impl Units {
    fn max_with(self, other: Units) -> Units {
        Units {
            read: self.read.max(other.read),
            write: self.write.max(other.write),
        }
    }
}

fn object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// What the request of an update or delete shows of the item: its key and new values.
fn changed_size(request: &Value) -> usize {
    item_size(&request["Key"])
        + object(&request["ExpressionAttributeValues"])
            .values()
            .map(value_size)
            .sum::<usize>()
}

fn write(size: usize) -> Units {
    Units {
        read: 0.0,
        write: size.div_ceil(1024).max(1) as f64,
    }
}

fn read(size: usize, consistent: bool) -> Units {
    let units = size.div_ceil(4096).max(1) as f64;
    Units {
        read: if consistent { units } else { units / 2.0 },
        write: 0.0,
    }
}

/// An item's size in bytes (DynamoDB JSON: attribute name to typed value); 0 for none.
pub fn item_size(item: &Value) -> usize {
    object(item)
        .iter()
        .map(|(name, v)| name.len() + value_size(v))
        .sum()
}

fn value_size(v: &Value) -> usize {
    let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let strings = || inner.as_array().cloned().unwrap_or_default();
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => number_size(inner.as_str().unwrap_or_default()),
        "B" => binary_size(inner.as_str().unwrap_or_default()),
        "BOOL" | "NULL" => 1,
        "SS" => strings()
            .iter()
            .filter_map(Value::as_str)
            .map(str::len)
            .sum(),
        "NS" => strings()
            .iter()
            .filter_map(Value::as_str)
            .map(number_size)
            .sum(),
        "BS" => strings()
            .iter()
            .filter_map(Value::as_str)
            .map(binary_size)
            .sum(),
        "L" => 3 + strings().iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        "M" => {
            3 + object(inner)
                .iter()
                .map(|(name, e)| 1 + name.len() + value_size(e))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// About one byte per two significant digits, plus one.
fn number_size(n: &str) -> usize {
    let digits = n
        .trim_start_matches(['-', '+'])
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.max(1).div_ceil(2) + 1
}

/// The bytes a base64 string decodes to.
fn binary_size(b64: &str) -> usize {
    let padding = b64.bytes().rev().take_while(|&b| b == b'=').count();
    (b64.len() / 4 * 3).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_sizes_follow_the_developer_guide() {
        // "pk" 2 + 5; "n" 1 + (3 digits: 2 + 1); "m" 1 + 3 + (1 + "a" 1 + BOOL 1).
        let item =
            json!({"pk": {"S": "hello"}, "n": {"N": "123"}, "m": {"M": {"a": {"BOOL": true}}}});
        assert_eq!(item_size(&item), 7 + 4 + 7);
        assert_eq!(binary_size("aGVsbG8="), 5);
        assert_eq!(number_size("-0.0012"), 2);
    }

    #[test]
    fn writes_count_per_kilobyte_and_reads_per_four_eventually_halved() {
        let big = json!({"Item": {"doc": {"S": "x".repeat(2100)}}});
        assert_eq!(units("PutItem", &big, &json!({})).write, 3.0);
        let found = json!({"Item": {"doc": {"S": "x".repeat(5000)}}});
        assert_eq!(units("GetItem", &json!({}), &found).read, 1.0);
        let strong = json!({"ConsistentRead": true});
        assert_eq!(units("GetItem", &strong, &found).read, 2.0);
        assert_eq!(
            units("GetItem", &strong, &json!({})).read,
            1.0,
            "a miss costs too"
        );
        let tx = json!({"TransactItems": [{"Put": {"Item": {"k": {"S": "v"}}}},
            {"ConditionCheck": {"Key": {"k": {"S": "v"}}}}]});
        assert_eq!(units("TransactWriteItems", &tx, &json!({})).write, 4.0);
    }
}
