//! Typed columns: hashes and addresses stored as `BYTEA`, decoded straight into alloy's types. A stored value of the
//! wrong length is a decode error (the schema's writer never stores one), so rows need no conversion step.

use alloy::primitives::{Address, B256};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// A 32-byte hash column (`BYTEA` of 32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DbHash(pub B256);

/// A 20-byte address column (`BYTEA` of 20 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DbAddress(pub Address);

impl DbHash {
    /// The hash, or `None` for the zero hash (the contracts' "none").
    pub fn nonzero(self) -> Option<B256> {
        (!self.0.is_zero()).then_some(self.0)
    }
}

impl DbAddress {
    /// The address, or `None` for the zero address (the contracts' "none").
    pub fn nonzero(self) -> Option<Address> {
        (!self.0.is_zero()).then_some(self.0)
    }
}

macro_rules! bytea_column {
    ($column:ty, $inner:ty, $what:literal) => {
        impl Type<Postgres> for $column {
            fn type_info() -> PgTypeInfo {
                <Vec<u8> as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <Vec<u8> as Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Postgres> for $column {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let bytes = <&[u8] as Decode<'r, Postgres>>::decode(value)?;
                let inner = <$inner>::try_from(bytes)
                    .map_err(|_| format!(concat!("stored ", $what, " has {} bytes"), bytes.len()))?;
                Ok(Self(inner))
            }
        }

        impl Encode<'_, Postgres> for $column {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&[u8] as Encode<'_, Postgres>>::encode(self.0.as_slice(), buf)
            }
        }

        impl sqlx::postgres::PgHasArrayType for $column {
            fn array_type_info() -> PgTypeInfo {
                <Vec<u8> as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        impl From<$column> for $inner {
            fn from(column: $column) -> Self {
                column.0
            }
        }
    };
}

bytea_column!(DbHash, B256, "hash");
bytea_column!(DbAddress, Address, "address");
